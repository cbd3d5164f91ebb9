import { fromFixed4, toFixed4 } from './ring.js';

export const MINUTE_MS = 60_000;
/** min and max are kept as distances from the mean in thousandths, up to 65.535 (Uint16). */
const SPREAD_SCALE = 1000;
const SPREAD_MAX = 0xffff;

/** One minute of a sensor: the time of its last reading, and min/mean/max of its good ones (NaN: only failed reads). */
export interface Bucket {
  readonly t: number;
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

/**
 * The older part of a sensor's history as 1-minute min/mean/max buckets, 14 bytes a minute
 * whatever the sensor's interval: the minute (Int32 minutes since the epoch) and the last
 * reading's millisecond in it (Uint16), so the time is exact; the mean as fixed-point Int32;
 * min and max as Uint16 thousandths below and above it (rounded outwards, so the band
 * always contains the readings; a spread over 65 in one minute is clamped).
 * Points come in oldest first (as they leave the raw ring); the minute being filled stays
 * open, in plain fields (no object per minute), until a point of a later minute arrives. A
 * point from an earlier minute (a clock stepped back) joins the open one.
 */
export class MinuteBuckets {
  readonly #capacity: number;
  #minute: Int32Array;
  #ms: Uint16Array;
  #mean: Int32Array;
  #below: Uint16Array;
  #above: Uint16Array;
  #start = 0;
  #size = 0;
  /**
   * The open minute: [minute (NaN: none), last time, sum, good readings, min, max]. In a
   * typed array because V8 boxes a double written to an object's field: a field here would
   * allocate at every reading.
   */
  readonly #open = new Float64Array([NaN, 0, 0, 0, Infinity, -Infinity]);

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`bucket capacity must be a positive integer, not ${capacity}`);
    this.#capacity = capacity;
    // Nothing until the first minute closes (a sensor an hour old), then the whole capacity
    // at once: 19 kB, and no outgrown arrays left to the allocator.
    const n = 0;
    this.#minute = new Int32Array(n);
    this.#ms = new Uint16Array(n);
    this.#mean = new Int32Array(n);
    this.#below = new Uint16Array(n);
    this.#above = new Uint16Array(n);
  }

  get bytes(): number {
    return this.#minute.byteLength + this.#ms.byteLength + this.#mean.byteLength + this.#below.byteLength + this.#above.byteLength;
  }

  /** Closed buckets held, plus the open one. */
  get size(): number {
    return this.#size + (Number.isNaN(this.#open[0] ?? NaN) ? 0 : 1);
  }

  /** One raw reading (NaN = failed). */
  add(t: number, v: number): void {
    const o = this.#open;
    const minute = Math.floor(t / MINUTE_MS);
    if (minute > (o[0] ?? NaN)) this.#close();
    if (Number.isNaN(o[0] ?? NaN)) {
      o[0] = minute;
      o[1] = t;
    }
    o[1] = Math.max(o[1] ?? t, t);
    if (Number.isNaN(v)) return;
    o[2] = (o[2] ?? 0) + v;
    o[3] = (o[3] ?? 0) + 1;
    o[4] = Math.min(o[4] ?? v, v);
    o[5] = Math.max(o[5] ?? v, v);
  }

  /** A bucket already made (a saved history), after any held. */
  push(b: Bucket): void {
    this.#close();
    this.#append(b.t, b.min, b.mean, b.max);
  }

  /** Buckets with t >= since, oldest first; the open minute last. */
  buckets(since = -Infinity): Bucket[] {
    const out: Bucket[] = [];
    for (let i = 0; i < this.#size; i++) {
      const j = (this.#start + i) % this.#minute.length;
      const t = (this.#minute[j] ?? 0) * MINUTE_MS + (this.#ms[j] ?? 0);
      if (t < since) continue;
      const mean = fromFixed4(this.#mean[j] ?? NaN);
      out.push({ t, mean, min: round4(mean - (this.#below[j] ?? 0) / SPREAD_SCALE), max: round4(mean + (this.#above[j] ?? 0) / SPREAD_SCALE) });
    }
    const [minute = NaN, t = 0, sum = 0, good = 0, lo = NaN, hi = NaN] = this.#open;
    if (!Number.isNaN(minute) && t >= since) {
      out.push(good === 0 ? { t, min: NaN, mean: NaN, max: NaN } : { t, min: round4(lo), mean: round4(sum / good), max: round4(hi) });
    }
    return out;
  }

  #close(): void {
    const o = this.#open;
    const [minute = NaN, t = 0, sum = 0, good = 0, lo = NaN, hi = NaN] = o;
    if (Number.isNaN(minute)) return;
    if (good === 0) this.#append(t, NaN, NaN, NaN);
    else this.#append(t, lo, sum / good, hi);
    o.set([NaN, 0, 0, 0, Infinity, -Infinity]);
  }

  #append(t: number, min: number, mean: number, max: number): void {
    if (this.#size === this.#minute.length && this.#size < this.#capacity) this.#grow();
    const cap = this.#minute.length;
    const at = (this.#start + this.#size) % cap;
    const minute = Math.floor(t / MINUTE_MS);
    this.#minute[at] = minute;
    this.#ms[at] = t - minute * MINUTE_MS;
    const m = toFixed4(mean);
    this.#mean[at] = m;
    const exact = fromFixed4(m);
    this.#below[at] = spread(exact - min);
    this.#above[at] = spread(max - exact);
    if (this.#size < cap) this.#size++;
    else this.#start = (this.#start + 1) % cap;
  }

  #grow(): void {
    const length = this.#capacity;
    const copy = <A extends Int32Array | Uint16Array>(from: A, to: A): A => {
      for (let i = 0; i < this.#size; i++) to[i] = from[(this.#start + i) % from.length] ?? 0;
      return to;
    };
    this.#minute = copy(this.#minute, new Int32Array(length));
    this.#ms = copy(this.#ms, new Uint16Array(length));
    this.#mean = copy(this.#mean, new Int32Array(length));
    this.#below = copy(this.#below, new Uint16Array(length));
    this.#above = copy(this.#above, new Uint16Array(length));
    this.#start = 0;
  }
}

/** A distance from the mean in thousandths, rounded up (NaN: a minute of failed reads, 0). */
function spread(d: number): number {
  if (!(d > 0)) return 0;
  return Math.min(SPREAD_MAX, Math.ceil(Math.round(d * SPREAD_SCALE * 1000) / 1000));
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
