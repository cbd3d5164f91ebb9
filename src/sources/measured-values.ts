import type { ReadResult } from '../readings/read-result.js';
import type { Measurement } from '../readings/kinds.js';

/**
 * Pure: a measured value judged against its kind's range, OWFS text parsed, and the
 * text a value is published as. The DS18x20 keeps its own rules (onewire/validity.ts).
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

// OWFS prints %G (owlib ow_parseoutput.c): `45.2`, `     7.80984`, `1E-05`; never a newline.
const OWFS_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(E[-+]?\d+)?$/i;

/** An OWFS property (`humidity`, `VAD`, `VDD`, a DS2438 `temperature`), trimmed or padded. */
export function valueFromOwfsText(text: string, measurement: Measurement): ReadResult {
  const trimmed = text.trim();
  if (trimmed.length === 0) return { ok: false, error: { code: 'empty_read' } };
  if (!OWFS_NUMBER.test(trimmed)) return { ok: false, error: { code: 'parse_error', raw: text } };
  return judge(measurement, Number(trimmed));
}

/** A kernel attribute printed with "%i\n" or "%u\n" (w1_ds2438.c), as a number; undefined if not one. */
export function parseKernelInt(text: string): number | undefined {
  return /^-?\d+\n?$/.test(text) ? Number.parseInt(text, 10) : undefined;
}
