/** What a ring allocates before it has points: its storage doubles as they come, up to its capacity. */
const FIRST_ALLOCATION = 64;

/**
 * A ring of (time, value) points: the newest `capacity` readings of one sensor. Typed
 * arrays keep a day of 30 s readings at 46 kB per sensor and make pushing O(1) amortised
 * with no garbage. A failed read is stored as NaN: a gap in the chart. Storage grows with
 * the points held, not with the capacity: a source listing thousands of devices at once
 * must not reserve a day for each before its first reading (a full day at any interval is
 * still 16 bytes a point; bounding that is the history's own redesign).
 */
export class Ring {
  readonly #capacity: number;
  #t: Float64Array;
  #v: Float64Array;
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, not ${capacity}`);
    this.#capacity = capacity;
    this.#t = new Float64Array(Math.min(capacity, FIRST_ALLOCATION));
    this.#v = new Float64Array(this.#t.length);
  }

  get capacity(): number {
    return this.#capacity;
  }

  get size(): number {
    return this.#size;
  }

  /** Append, dropping the oldest point when full. Times must not go backwards. */
  push(t: number, v: number): void {
    if (this.#size === this.#t.length && this.#size < this.#capacity) this.#grow();
    const cap = this.#t.length;
    const at = (this.#start + this.#size) % cap;
    this.#t[at] = t;
    this.#v[at] = v;
    if (this.#size < cap) this.#size++;
    else this.#start = (this.#start + 1) % cap;
  }

  /** The i-th oldest point (0 = oldest). */
  at(i: number): { t: number; v: number } {
    const j = (this.#start + i) % this.#t.length;
    return { t: this.#t[j] ?? NaN, v: this.#v[j] ?? NaN };
  }

  /** Double the storage (up to the capacity), oldest point first. */
  #grow(): void {
    const length = Math.min(this.#capacity, this.#t.length * 2);
    const t = new Float64Array(length);
    const v = new Float64Array(length);
    for (let i = 0; i < this.#size; i++) {
      const j = (this.#start + i) % this.#t.length;
      t[i] = this.#t[j] ?? NaN;
      v[i] = this.#v[j] ?? NaN;
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

  /** A new capacity (the interval changed); keeps the newest points that fit. */
  resize(capacity: number): Ring {
    const next = new Ring(capacity);
    for (let i = Math.max(0, this.#size - capacity); i < this.#size; i++) {
      const p = this.at(i);
      next.push(p.t, p.v);
    }
    return next;
  }
}
