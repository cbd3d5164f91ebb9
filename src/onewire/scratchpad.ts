import type { ReadResult } from '../readings/read-result.js';
import { crc8 } from './crc8.js';
import { checkScratchpad } from './validity.js';

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
// Fixed columns once the format is checked: byte i at 3i, the CRC at 33, t= at 27 (value from 29).
const LINE1 = /^(?:[0-9a-f]{2} ){9}: crc=[0-9a-f]{2} (?:YES|NO)$/;
const LINE2 = /^(?:[0-9a-f]{2} ){9}t=-?\d+$/;

/** Pure parser of `w1_slave` text; undefined when it is not that format. */
export function parseW1SlaveText(text: string): W1Slave | undefined {
  // Column arithmetic instead of split/exec captures: a thousand sensors a second go through here.
  const end1 = text.indexOf('\n');
  const line1 = end1 === -1 ? text : text.slice(0, end1);
  const end2 = end1 === -1 ? -1 : text.indexOf('\n', end1 + 1);
  const line2 = end1 === -1 ? '' : text.slice(end1 + 1, end2 === -1 ? undefined : end2);
  if (!LINE1.test(line1) || !LINE2.test(line2)) return undefined;
  const bytes = new Uint8Array(9);
  for (let i = 0; i < 9; i++) bytes[i] = hexDigit(line1.charCodeAt(3 * i)) * 16 + hexDigit(line1.charCodeAt(3 * i + 1));
  return { bytes, crc: line1.slice(33, 35), crcOk: line1.endsWith('YES'), milli: Number(line2.slice(29)) };
}

/** The value of a lowercase hex digit's char code (the format check allowed only 0-9a-f). */
function hexDigit(code: number): number {
  return code <= 0x39 ? code - 0x30 : code - 0x57;
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
