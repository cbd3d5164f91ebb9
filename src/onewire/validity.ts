import { DS18X20_RANGE } from '../readings/kinds.js';
import type { ReadError } from '../readings/read-result.js';

const MIN_MILLI = DS18X20_RANGE.min * 1000;
const MAX_MILLI = DS18X20_RANGE.max * 1000;
/** Power-on reset value of the temperature register (DS18B20 datasheet, Table 1: +85 °C = 0x0550). */
export const POWER_ON_MILLI = 85_000;
/** 0x07FF: what a DS18B20 reports when the conversion lacked power (127.9375 °C). */
export const INSUFFICIENT_POWER_MILLI = 127_937;

/**
 * Judge a scratchpad that passed its CRC. Byte 6 (COUNT REMAIN) is 0x0C after a
 * power-on reset, which is what tells a real 85 °C apart from a sensor that never
 * converted (w1_therm.c, the `features` bit 1 check uses the same rule).
 */
export function checkScratchpad(bytes: Uint8Array, milli: number): ReadError | undefined {
  if (bytes.every((b) => b === 0)) return { code: 'all_zero' };
  if (milli === POWER_ON_MILLI && bytes[6] === 0x0c) return { code: 'power_on_reset', milli };
  return checkMilli(milli);
}

/** Judge a bare temperature (no scratchpad bytes: OWFS, the kernel `temperature` file). */
export function checkMilli(milli: number): ReadError | undefined {
  if (!Number.isFinite(milli)) return { code: 'out_of_range', milli };
  if (milli === INSUFFICIENT_POWER_MILLI) return { code: 'insufficient_power', milli };
  if (milli < MIN_MILLI || milli > MAX_MILLI) return { code: 'out_of_range', milli };
  return undefined;
}

/** Faults worth an immediate second read rather than waiting for the next interval. */
export function isRetryable(error: ReadError): boolean {
  return error.code === 'power_on_reset' || error.code === 'crc_mismatch' || error.code === 'empty_read';
}
