import type { ReadResult } from '../readings/read-result.js';
import type { Measurement } from '../readings/kinds.js';

/**
 * Pure: a measured value judged against its kind's range, presence as a reading, and a
 * kernel attribute's integer. The DS18x20 keeps its own rules (onewire/validity.ts); OWFS
 * text is parsed in owfs-value.ts.
 */

/** A value in the measurement's unit → a reading, or `out_of_range` naming the unit. */
export function judge(measurement: Measurement, value: number): ReadResult {
  const milli = Math.round(value * 1000);
  const range = measurement.range;
  if (!Number.isFinite(value) || (range && (value < range.min || value > range.max))) {
    return { ok: false, error: { code: 'out_of_range', milli: Number.isFinite(milli) ? milli : NaN, unit: measurement.unit, ...range } };
  }
  return { ok: true, milli };
}

/** Presence as a reading: 1 there, 0 gone (never an error: being gone is the news). */
export function presence(present: boolean): ReadResult {
  return { ok: true, milli: present ? 1000 : 0 };
}

/** A kernel attribute printed with "%i\n" or "%u\n" (w1_ds2438.c), as a number; undefined if not one. */
export function parseKernelInt(text: string): number | undefined {
  return /^-?\d+\n?$/.test(text) ? Number.parseInt(text, 10) : undefined;
}
