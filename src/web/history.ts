import { Ring } from './ring.js';

/** How much the page charts: the last day. */
export const HISTORY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Points per sensor the page and /api/history get: about one per pixel of a chart (a day at
 * two-minute steps). A day at 5 s is 17 281 points, 7 MB of JSON for 19 sensors, written
 * out on the event loop at every page load; chart-sized it is a few hundred kB.
 */
export const CHART_POINTS = 720;

/** The history of one sensor in the saved form: times as deltas, values rounded. */
export interface SavedSeries {
  readonly intervalMs: number;
  /** Time of the first point, ms since the epoch. */
  readonly t0: number;
  /** Milliseconds from the previous point (the first is 0). */
  readonly dt: readonly number[];
  /** °C, or null for a failed read. */
  readonly v: readonly (number | null)[];
}

/**
 * One ring per sensor (keyed by sysfs id), sized to hold a day at the sensor's
 * interval, so memory is bounded whatever the uptime. Lives in memory only: it is
 * written to disk once, on a clean stop (history-file.ts), never per reading.
 */
export class History {
  readonly #windowMs: number;
  readonly #rings = new Map<string, { ring: Ring; intervalMs: number }>();

  constructor(options: { windowMs?: number } = {}) {
    this.#windowMs = options.windowMs ?? HISTORY_WINDOW_MS;
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  /** Points a day holds at this interval, plus one so the window's both ends fit. */
  capacityFor(intervalMs: number): number {
    return Math.ceil(this.#windowMs / Math.max(1000, intervalMs)) + 1;
  }

  /** One reading: °C, or NaN for a failed read. */
  record(key: string, intervalMs: number, at: number, celsius: number): void {
    this.#ring(key, intervalMs).push(at, celsius);
  }

  /** The last day of one sensor, oldest first. */
  columns(key: string, now: number): { t: number[]; v: (number | null)[] } {
    return this.#rings.get(key)?.ring.columns(now - this.#windowMs) ?? { t: [], v: [] };
  }

  /**
   * The last day of one sensor, at most `maxPoints` points: runs of consecutive points
   * averaged (a stretch of only failed reads stays a gap), each at its last point's time, so the
   * newest point is exact and the page's live points follow on.
   */
  chart(key: string, now: number, maxPoints = CHART_POINTS): { t: number[]; v: (number | null)[] } {
    const all = this.columns(key, now);
    const n = all.t.length;
    if (n <= maxPoints) return all;
    const t: number[] = [];
    const v: (number | null)[] = [];
    for (let bucket = 0; bucket < maxPoints; bucket++) {
      // Bucket edges by index: every bucket has ⌊n/maxPoints⌋ or ⌈n/maxPoints⌉ points.
      const from = Math.floor((bucket * n) / maxPoints);
      const to = Math.floor(((bucket + 1) * n) / maxPoints);
      let sum = 0;
      let good = 0;
      for (let i = from; i < to; i++) {
        const x = all.v[i];
        if (x !== null && x !== undefined) {
          sum += x;
          good++;
        }
      }
      t.push(all.t[to - 1] ?? 0);
      v.push(good === 0 ? null : Math.round((sum / good) * 10_000) / 10_000);
    }
    return { t, v };
  }

  lastGood(key: string): { t: number; v: number } | undefined {
    return this.#rings.get(key)?.ring.lastGood();
  }

  keys(): string[] {
    return [...this.#rings.keys()];
  }

  /** Every sensor's last day in the saved form. */
  snapshot(now: number): Record<string, SavedSeries> {
    const out: Record<string, SavedSeries> = {};
    for (const [key, { intervalMs }] of this.#rings) {
      const { t, v } = this.columns(key, now);
      const first = t[0];
      if (first === undefined) continue;
      out[key] = { intervalMs, t0: first, dt: t.map((x, i) => (i === 0 ? 0 : x - (t[i - 1] ?? x))), v: v.map((x) => (x === null ? null : round4(x))) };
    }
    return out;
  }

  /** Put saved series back, dropping points older than a day. Returns the points kept. */
  restore(saved: Record<string, SavedSeries>, now: number): number {
    let kept = 0;
    for (const [key, series] of Object.entries(saved)) {
      const ring = this.#ring(key, series.intervalMs);
      let t = series.t0;
      series.dt.forEach((d, i) => {
        t += d;
        if (t < now - this.#windowMs || t > now) return;
        ring.push(t, series.v[i] ?? NaN);
        kept++;
      });
    }
    return kept;
  }

  #ring(key: string, intervalMs: number): Ring {
    const entry = this.#rings.get(key);
    const capacity = this.capacityFor(intervalMs);
    if (entry && entry.ring.capacity === capacity) return entry.ring;
    const ring = entry ? entry.ring.resize(capacity) : new Ring(capacity);
    this.#rings.set(key, { ring, intervalMs });
    return ring;
  }
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
