/** What a ring allocates before it has points: its storage doubles as they come, up to its capacity. */
const FIRST_ALLOCATION = 64;

/** A failed read (NaN) in the fixed-point columns: Int32's minimum, never a reading. */
const GAP = -0x80000000;
const SCALE = 10_000;
const INT32_MAX = 0x7fffffff;

/**
 * A value to 4 decimals as an Int32 (±214 748.3647: every °C, %RH and V a 1-Wire chip
 * reports; anything beyond is stored as a gap). 4 bytes instead of 8, and exact: n / 10 000
 * is the same double as the decimal literal, so what goes in to 4 decimals comes out equal.
 */
export function toFixed4(x: number): number {
  if (Number.isNaN(x)) return GAP;
  const n = Math.round(x * SCALE);
  return n > INT32_MAX || n <= GAP ? GAP : n;
}

export function fromFixed4(n: number): number {
  return n === GAP ? NaN : n / SCALE;
}

/**
 * A ring of (time, value) points: the newest `capacity` raw readings of one sensor, 8 bytes a
 * point (time as Int32 milliseconds from a base, value as fixed-point Int32), pushing O(1)
 * amortised with no garbage. A failed read is a gap in the chart. Storage grows with the
 * points held, not with the capacity: a source listing thousands of devices at once must
 * not reserve the whole capacity for each before its first reading.
 */
export class Ring {
  readonly #capacity: number;
  /** Milliseconds from #base: Int32 spans ±24 days, and a ring holds an hour or so. */
  #t: Int32Array;
  #v: Int32Array;
  #base = 0;
  #start = 0;
  #size = 0;

  /** `expected`: the points it will likely hold (the history knows the interval), allocated at once so no outgrown arrays are left behind. */
  constructor(capacity: number, expected = FIRST_ALLOCATION) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, not ${capacity}`);
    this.#capacity = capacity;
    this.#t = new Int32Array(Math.max(1, Math.min(capacity, Math.ceil(expected))));
    this.#v = new Int32Array(this.#t.length);
  }

  get capacity(): number {
    return this.#capacity;
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes of storage held (the typed arrays). */
  get bytes(): number {
    return this.#t.byteLength + this.#v.byteLength;
  }

  /**
   * Append; when full, the oldest point is dropped and returned (the history folds it into
   * its minute buckets). A time more than 24 days from the points held (a clock stepped by
   * weeks) cannot share their base: those points are dropped and returned as undefined.
   */
  push(t: number, v: number): { t: number; v: number } | undefined {
    if (this.#size === 0) this.#base = t;
    else if (!this.#fits(t - this.#base)) this.#rebase(t);
    let dropped: { t: number; v: number } | undefined;
    if (this.#size === this.#t.length && this.#size < this.#capacity) this.#grow();
    else if (this.#size === this.#capacity) dropped = this.shift();
    const cap = this.#t.length;
    const at = (this.#start + this.#size) % cap;
    this.#t[at] = t - this.#base;
    this.#v[at] = toFixed4(v);
    this.#size++;
    return dropped;
  }

  /** Remove and return the oldest point. */
  shift(): { t: number; v: number } | undefined {
    if (this.#size === 0) return undefined;
    const p = this.at(0);
    this.dropOldest();
    return p;
  }

  /** The oldest point's time (NaN when empty), without building a point. */
  get oldestT(): number {
    return this.#size === 0 ? NaN : this.#base + (this.#t[this.#start] ?? NaN);
  }

  /** The oldest point's value (NaN when empty or a failed read). */
  get oldestV(): number {
    return this.#size === 0 ? NaN : fromFixed4(this.#v[this.#start] ?? GAP);
  }

  get full(): boolean {
    return this.#size === this.#capacity;
  }

  /** Drop the oldest point (after reading it through oldestT/oldestV: no object per point). */
  dropOldest(): void {
    if (this.#size === 0) return;
    this.#start = (this.#start + 1) % this.#t.length;
    this.#size--;
  }

  /** The i-th oldest point (0 = oldest). */
  at(i: number): { t: number; v: number } {
    const j = (this.#start + i) % this.#t.length;
    return { t: this.#base + (this.#t[j] ?? NaN), v: fromFixed4(this.#v[j] ?? GAP) };
  }

  #fits(offset: number): boolean {
    return offset >= GAP && offset <= INT32_MAX;
  }

  /** A new base: the oldest time held or the new one, whichever is earlier. */
  #rebase(t: number): void {
    const oldest = this.at(0).t;
    const newest = this.at(this.#size - 1).t;
    const base = Math.min(oldest, t);
    if (!this.#fits(Math.max(newest, t) - base)) {
      this.#size = 0;
      this.#start = 0;
      this.#base = t;
      return;
    }
    const shift = this.#base - base;
    for (let i = 0; i < this.#size; i++) {
      const j = (this.#start + i) % this.#t.length;
      this.#t[j] = (this.#t[j] ?? 0) + shift;
    }
    this.#base = base;
  }

  /** Double the storage (up to the capacity), oldest point first. */
  #grow(): void {
    const length = Math.min(this.#capacity, this.#t.length * 2);
    const t = new Int32Array(length);
    const v = new Int32Array(length);
    for (let i = 0; i < this.#size; i++) {
      const j = (this.#start + i) % this.#t.length;
      t[i] = this.#t[j] ?? 0;
      v[i] = this.#v[j] ?? GAP;
    }
    this.#t = t;
    this.#v = v;
    this.#start = 0;
  }

  /** The newest point whose value is a number (not a failed read). */
  lastGood(): { t: number; v: number } | undefined {
    for (let i = this.#size - 1; i >= 0; i--) {
      const p = this.at(i);
      if (!Number.isNaN(p.v)) return p;
    }
    return undefined;
  }

  /** Points with t >= since, oldest first, as two columns (the shape uPlot draws). */
  columns(since = -Infinity): { t: number[]; v: (number | null)[] } {
    const t: number[] = [];
    const v: (number | null)[] = [];
    for (let i = 0; i < this.#size; i++) {
      const p = this.at(i);
      if (p.t < since) continue;
      t.push(p.t);
      v.push(Number.isNaN(p.v) ? null : p.v);
    }
    return { t, v };
  }
}
