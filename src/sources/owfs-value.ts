import type { ReadResult } from '../readings/read-result.js';
import { checkMilli } from '../onewire/validity.js';

/**
 * Parse an OWFS temperature. The FUSE mount trims (`"83.1069"`), owserver pads to
 * 12 columns (`"     69.4721"`), values use printf `%G` (so `1E-05` is possible),
 * and there is never a newline (owlib ow_parseoutput.c). Celsius is assumed: the
 * mount's /settings/units/temperature_scale default.
 */
export function readingFromOwfsText(text: string): ReadResult {
  const trimmed = text.trim();
  if (trimmed.length === 0) return { ok: false, error: { code: 'empty_read' } };
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)(E[-+]?\d+)?$/i.test(trimmed)) return { ok: false, error: { code: 'parse_error', raw: text } };
  const milli = Math.round(Number(trimmed) * 1000);
  const fault = checkMilli(milli);
  return fault ? { ok: false, error: fault } : { ok: true, milli };
}
