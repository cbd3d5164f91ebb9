import { fromFixed4, toFixed4 } from './ring.js';

const FIRST_ALLOCATION = 64;
export const MINUTE_MS = 60_000;

/** One minute of a sensor: the time of its last reading, and min/mean/max of its good ones (NaN: only failed reads). */
export interface Bucket {
  readonly t: number;
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

interface OpenMinute {
  minute: number;
  t: number;
  sum: number;
  good: number;
  min: number;
  max: number;
}

/**
 * The older part of a sensor's history as 1-minute min/mean/max buckets: 20 bytes a minute
 * (time as Float64, the three values as fixed-point Int32), whatever the sensor's interval.
 * Points come in oldest first (as they leave the raw ring); the minute being filled stays
 * open until a point of a later minute arrives. A point from an earlier minute (a clock
 * stepped back) joins the open one rather than rewriting closed ones.
 */
export class MinuteBuckets {
  readonly #capacity: number;
  #t: Float64Array;
  #min: Int32Array;
  #mean: Int32Array;
  #max: Int32Array;
  #start = 0;
  #size = 0;
  #open: OpenMinute | undefined;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`bucket capacity must be a positive integer, not ${capacity}`);
    this.#capacity = capacity;
    const n = Math.min(capacity, FIRST_ALLOCATION);
    this.#t = new Float64Array(n);
    this.#min = new Int32Array(n);
    this.#mean = new Int32Array(n);
    this.#max = new Int32Array(n);
  }

  get bytes(): number {
    return this.#t.byteLength + this.#min.byteLength + this.#mean.byteLength + this.#max.byteLength;
  }

  /** Closed buckets held, plus the open one. */
  get size(): number {
    return this.#size + (this.#open ? 1 : 0);
  }

  /** One raw reading (NaN = failed). */
  add(t: number, v: number): void {
    const minute = Math.floor(t / MINUTE_MS);
    let open = this.#open;
    if (open && minute > open.minute) {
      this.#close(open);
      open = undefined;
    }
    if (!open) open = this.#open = { minute, t, sum: 0, good: 0, min: Infinity, max: -Infinity };
    open.t = Math.max(open.t, t);
    if (Number.isNaN(v)) return;
    open.sum += v;
    open.good++;
    open.min = Math.min(open.min, v);
    open.max = Math.max(open.max, v);
  }

  /** A bucket already made (a saved history), after any held. */
  push(b: Bucket): void {
    if (this.#open) {
      this.#close(this.#open);
    }
    this.#append(b.t, b.min, b.mean, b.max);
  }

  /** Buckets with t >= since, oldest first; the open minute last. */
  buckets(since = -Infinity): Bucket[] {
    const out: Bucket[] = [];
    for (let i = 0; i < this.#size; i++) {
      const j = (this.#start + i) % this.#t.length;
      const t = this.#t[j] ?? NaN;
      if (t < since) continue;
      out.push({ t, min: fromFixed4(this.#min[j] ?? NaN), mean: fromFixed4(this.#mean[j] ?? NaN), max: fromFixed4(this.#max[j] ?? NaN) });
    }
    const o = this.#open;
    if (o && o.t >= since) {
      out.push(o.good === 0 ? { t: o.t, min: NaN, mean: NaN, max: NaN } : { t: o.t, min: round4(o.min), mean: round4(o.sum / o.good), max: round4(o.max) });
    }
    return out;
  }

  #close(o: OpenMinute): void {
    this.#open = undefined;
    if (o.good === 0) this.#append(o.t, NaN, NaN, NaN);
    else this.#append(o.t, o.min, o.sum / o.good, o.max);
  }

  #append(t: number, min: number, mean: number, max: number): void {
    if (this.#size === this.#t.length && this.#size < this.#capacity) this.#grow();
    const cap = this.#t.length;
    const at = (this.#start + this.#size) % cap;
    this.#t[at] = t;
    this.#min[at] = toFixed4(min);
    this.#mean[at] = toFixed4(mean);
    this.#max[at] = toFixed4(max);
    if (this.#size < cap) this.#size++;
    else this.#start = (this.#start + 1) % cap;
  }

  #grow(): void {
    const length = Math.min(this.#capacity, this.#t.length * 2);
    const t = new Float64Array(length);
    const min = new Int32Array(length);
    const mean = new Int32Array(length);
    const max = new Int32Array(length);
    for (let i = 0; i < this.#size; i++) {
      const j = (this.#start + i) % this.#t.length;
      t[i] = this.#t[j] ?? NaN;
      min[i] = this.#min[j] ?? 0;
      mean[i] = this.#mean[j] ?? 0;
      max[i] = this.#max[j] ?? 0;
    }
    this.#t = t;
    this.#min = min;
    this.#mean = mean;
    this.#max = max;
    this.#start = 0;
  }
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
