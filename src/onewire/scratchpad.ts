import type { ReadResult } from '../sources/source.js';
import { crc8 } from './crc8.js';
import { checkScratchpad, checkMilli } from './validity.js';

/** The two lines of a kernel `w1_slave` file, parsed but not yet judged. */
export interface W1Slave {
  /** Scratchpad bytes 0..8 from the first line (the fresh read). */
  readonly bytes: Uint8Array;
  /** The CRC the kernel printed and its verdict. */
  readonly crc: string;
  readonly crcOk: boolean;
  /** The `t=` value in millidegrees (computed by the kernel from the fresh bytes). */
  readonly milli: number;
}

// w1_slave_show(): nine "%02x " then ": crc=%02x YES|NO\n", then nine "%02x " again and "t=%d\n".
const LINE1 = /^((?:[0-9a-f]{2} ){9}): crc=([0-9a-f]{2}) (YES|NO)$/;
const LINE2 = /^(?:[0-9a-f]{2} ){9}t=(-?\d+)$/;

/** Pure parser of `w1_slave` text; undefined when it is not that format. */
export function parseW1SlaveText(text: string): W1Slave | undefined {
  const lines = text.split('\n');
  const m1 = LINE1.exec(lines[0] ?? '');
  const m2 = LINE2.exec(lines[1] ?? '');
  if (!m1 || !m2) return undefined;
  const bytes = Uint8Array.from((m1[1] ?? '').trim().split(' '), (h) => Number.parseInt(h, 16));
  return { bytes, crc: m1[2] ?? '', crcOk: m1[3] === 'YES', milli: Number(m2[1]) };
}

/**
 * Turn `w1_slave` text into a reading or a typed error. Kernels ≥ 5.8 return
 * an empty file on any failure (w1_therm.c `w1_slave_show`: `if (ret < 0) return 0`);
 * older ones print `NO`. We re-check the CRC ourselves so a corrupted file cannot pass.
 */
export function readingFromW1Slave(text: string): ReadResult {
  if (text.length === 0) return { ok: false, error: { code: 'empty_read' } };
  const parsed = parseW1SlaveText(text);
  if (!parsed) return { ok: false, error: { code: 'parse_error', raw: text } };
  if (!parsed.crcOk || crc8(parsed.bytes.subarray(0, 8)) !== parsed.bytes[8]) {
    return { ok: false, error: { code: 'crc_mismatch', crc: parsed.crc, raw: text.split('\n')[0] ?? '' } };
  }
  const fault = checkScratchpad(parsed.bytes, parsed.milli);
  if (fault) return { ok: false, error: fault };
  return { ok: true, milli: parsed.milli };
}

/** Pure parser of the kernel `temperature` attribute (`"%d\n"` millidegrees). */
export function readingFromTemperatureFile(text: string): ReadResult {
  if (text.length === 0) return { ok: false, error: { code: 'empty_read' } };
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) return { ok: false, error: { code: 'parse_error', raw: text } };
  const milli = Number(trimmed);
  const fault = checkMilli(milli);
  return fault ? { ok: false, error: fault } : { ok: true, milli };
}
