import { MINUTE_MS, MinuteBuckets } from './minute-buckets.js';
import { Ring } from './ring.js';

/** How much the page charts: the last day. */
export const HISTORY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** How much stays as raw readings; older ones are folded into 1-minute buckets. */
export const RAW_WINDOW_MS = 60 * 60 * 1000;

/** Raw points a sensor keeps at most: an hour at 1 s, the shortest interval, plus both ends. */
const RAW_POINTS = RAW_WINDOW_MS / 1000 + 1;

/**
 * Points per sensor the page and /api/history get: about one per pixel of a chart (a day at
 * two-minute steps). A day at 5 s is 17 281 points, 7 MB of JSON for 19 sensors, written
 * out on the event loop at every page load; chart-sized it is a few hundred kB.
 */
export const CHART_POINTS = 720;

/** Minute buckets in the saved form: times as deltas, values rounded (null: only failed reads). */
export interface SavedMinutes {
  readonly t0: number;
  readonly dt: readonly number[];
  readonly min: readonly (number | null)[];
  readonly mean: readonly (number | null)[];
  readonly max: readonly (number | null)[];
}

/** The history of one sensor in the saved form: raw points with times as deltas, older minutes apart. */
export interface SavedSeries {
  readonly intervalMs: number;
  /** Time of the first raw point, ms since the epoch. */
  readonly t0: number;
  /** Milliseconds from the previous point (the first is 0). */
  readonly dt: readonly number[];
  /** °C, or null for a failed read. */
  readonly v: readonly (number | null)[];
  /** Older than the raw points: one bucket a minute (absent in version 1 files, which hold only raw points). */
  readonly minutes?: SavedMinutes | undefined;
}

interface Series {
  intervalMs: number;
  readonly raw: Ring;
  readonly minutes: MinuteBuckets;
}

/**
 * Per sensor (keyed by sysfs id): the last hour as raw readings, the rest of the day as
 * 1-minute min/mean/max buckets, so a sensor costs the same at 1 s as at 60 s (about 47 kB
 * at most) and memory is bounded whatever the uptime. Lives in memory only: it is written to
 * disk once, on a clean stop (history-file.ts), never per reading.
 */
export class History {
  readonly #windowMs: number;
  readonly #rawMs: number;
  readonly #series = new Map<string, Series>();

  constructor(options: { windowMs?: number } = {}) {
    this.#windowMs = options.windowMs ?? HISTORY_WINDOW_MS;
    this.#rawMs = Math.min(RAW_WINDOW_MS, this.#windowMs);
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  /** Bytes held for one sensor (its typed arrays), the figure the bench prints. */
  bytesFor(key: string): number {
    const s = this.#series.get(key);
    return s ? s.raw.bytes + s.minutes.bytes : 0;
  }

  /** One reading: °C, or NaN for a failed read. */
  record(key: string, intervalMs: number, at: number, celsius: number): void {
    const s = this.#get(key, intervalMs);
    // Raw points older than the raw window (or beyond its size) go into their minute, oldest
    // first, read in place: this runs for every reading, so it builds no object.
    const raw = s.raw;
    while (raw.oldestT < at - this.#rawMs || raw.full) {
      s.minutes.add(raw.oldestT, raw.oldestV);
      raw.dropOldest();
    }
    raw.push(at, celsius);
  }

  /** The last day of one sensor, oldest first: a point per minute bucket (its mean), then the raw points. */
  columns(key: string, now: number): { t: number[]; v: (number | null)[] } {
    const s = this.#series.get(key);
    if (!s) return { t: [], v: [] };
    const since = now - this.#windowMs;
    const t: number[] = [];
    const v: (number | null)[] = [];
    for (const b of s.minutes.buckets(since)) {
      t.push(b.t);
      v.push(Number.isNaN(b.mean) ? null : b.mean);
    }
    const raw = s.raw.columns(since);
    return { t: t.concat(raw.t), v: v.concat(raw.v) };
  }

  /**
   * The last day of one sensor, at most `maxPoints` points: the day cut into `maxPoints` equal
   * stretches of time, the points in each averaged (a stretch of only failed reads stays a gap,
   * one without points is left out), each at its last point's time, so the newest point is
   * exact and the page's live points follow on. By time, not by count: the raw hour is denser
   * than the minute buckets before it.
   */
  chart(key: string, now: number, maxPoints = CHART_POINTS): { t: number[]; v: (number | null)[] } {
    const all = this.columns(key, now);
    const n = all.t.length;
    if (n <= maxPoints) return all;
    const width = this.#windowMs / maxPoints;
    const t: number[] = [];
    const v: (number | null)[] = [];
    let bin = NaN;
    let sum = 0;
    let good = 0;
    let last = 0;
    const flush = (): void => {
      if (Number.isNaN(bin)) return;
      t.push(last);
      v.push(good === 0 ? null : Math.round((sum / good) * 10_000) / 10_000);
    };
    for (let i = 0; i < n; i++) {
      const at = all.t[i] ?? 0;
      // Stretch 0 ends at `now`; a point exactly a day old belongs to the oldest one.
      const k = Math.min(maxPoints - 1, Math.max(0, Math.floor((now - at) / width)));
      if (k !== bin) {
        flush();
        bin = k;
        sum = 0;
        good = 0;
      }
      last = at;
      const x = all.v[i];
      if (x !== null && x !== undefined) {
        sum += x;
        good++;
      }
    }
    flush();
    return { t, v };
  }

  lastGood(key: string): { t: number; v: number } | undefined {
    const s = this.#series.get(key);
    if (!s) return undefined;
    const raw = s.raw.lastGood();
    if (raw) return raw;
    const b = s.minutes.buckets().findLast((x) => !Number.isNaN(x.mean));
    return b ? { t: b.t, v: b.mean } : undefined;
  }

  keys(): string[] {
    return [...this.#series.keys()];
  }

  /** Every sensor's last day in the saved form. */
  snapshot(now: number): Record<string, SavedSeries> {
    return Object.fromEntries(this.saved(now));
  }

  /** The same, one sensor at a time: the file is written as they come, never whole in memory (1 000 sensors at 1 s make ~80 MB of JSON). */
  *saved(now: number): Generator<[string, SavedSeries]> {
    const since = now - this.#windowMs;
    for (const [key, s] of this.#series) {
      const { t, v } = s.raw.columns(since);
      const buckets = s.minutes.buckets(since);
      const first = t[0] ?? buckets.at(-1)?.t;
      if (first === undefined) continue;
      const series: SavedSeries = { intervalMs: s.intervalMs, t0: first, dt: deltas(t), v: v.map((x) => (x === null ? null : round4(x))) };
      if (buckets.length === 0) {
        yield [key, series];
        continue;
      }
      const bt = buckets.map((b) => b.t);
      const col = (pick: (b: (typeof buckets)[number]) => number): (number | null)[] => buckets.map((b) => (Number.isNaN(pick(b)) ? null : round4(pick(b))));
      yield [key, { ...series, minutes: { t0: bt[0] ?? first, dt: deltas(bt), min: col((b) => b.min), mean: col((b) => b.mean), max: col((b) => b.max) } }];
    }
  }

  /** Put saved series back (either version), dropping points older than a day or after `now`. Returns the points kept. */
  restore(saved: Record<string, SavedSeries>, now: number): number {
    let kept = 0;
    const keep = (t: number): boolean => t >= now - this.#windowMs && t <= now;
    for (const [key, series] of Object.entries(saved)) {
      const s = this.#get(key, series.intervalMs);
      const m = series.minutes;
      if (m) {
        let t = m.t0;
        m.dt.forEach((d, i) => {
          t += d;
          if (!keep(t)) return;
          s.minutes.push({ t, min: m.min[i] ?? NaN, mean: m.mean[i] ?? NaN, max: m.max[i] ?? NaN });
          kept++;
        });
      }
      // Raw points (all of a version 1 file): as if read now, so those older than the raw hour fold into minutes.
      let t = series.t0;
      series.dt.forEach((d, i) => {
        t += d;
        if (!keep(t)) return;
        this.record(key, series.intervalMs, t, series.v[i] ?? NaN);
        kept++;
      });
    }
    return kept;
  }

  #get(key: string, intervalMs: number): Series {
    let s = this.#series.get(key);
    if (!s) {
      const buckets = Math.ceil((this.#windowMs - this.#rawMs) / MINUTE_MS) + 2;
      // The raw hour at this interval (a little more: reads come a bit early or late), grown if more come.
      const expected = Math.ceil((this.#rawMs / Math.max(1000, intervalMs)) * 1.05) + 2;
      s = { intervalMs, raw: new Ring(RAW_POINTS, expected), minutes: new MinuteBuckets(buckets) };
      this.#series.set(key, s);
    }
    s.intervalMs = intervalMs;
    return s;
  }
}

function deltas(t: readonly number[]): number[] {
  return t.map((x, i) => (i === 0 ? 0 : x - (t[i - 1] ?? x)));
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
