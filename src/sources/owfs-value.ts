import type { Measurement } from '../readings/kinds.js';
import type { ReadError, ReadResult } from '../readings/read-result.js';
import { checkMilli } from '../onewire/validity.js';
import { judge } from './measured-values.js';

/**
 * OWFS values as text. The FUSE mount trims (`"83.1069"`), owserver pads to 12 columns
 * (`"     69.4721"`), values use printf `%G` (so `1E-05` is possible), and there is
 * never a newline (owlib ow_parseoutput.c).
 */

const OWFS_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(E[-+]?\d+)?$/i;

/** The number an OWFS property holds, or why it holds none. */
function owfsNumber(text: string): { readonly ok: true; readonly value: number } | { readonly ok: false; readonly error: ReadError } {
  const trimmed = text.trim();
  if (trimmed.length === 0) return { ok: false, error: { code: 'empty_read' } };
  if (!OWFS_NUMBER.test(trimmed)) return { ok: false, error: { code: 'parse_error', raw: text } };
  return { ok: true, value: Number(trimmed) };
}

/**
 * A DS18x20's `temperature`, judged by the thermometer's rules (onewire/validity.ts).
 * Celsius is assumed: the mount's /settings/units/temperature_scale default.
 */
export function readingFromOwfsText(text: string): ReadResult {
  const parsed = owfsNumber(text);
  if (!parsed.ok) return parsed;
  const milli = Math.round(parsed.value * 1000);
  const fault = checkMilli(milli);
  return fault ? { ok: false, error: fault } : { ok: true, milli };
}

/** Any other OWFS property (`humidity`, `VAD`, `VDD`, a DS2438 `temperature`), judged against its measurement's range. */
export function valueFromOwfsText(text: string, measurement: Measurement): ReadResult {
  const parsed = owfsNumber(text);
  return parsed.ok ? judge(measurement, parsed.value) : parsed;
}
