import { crc8 } from './crc8.js';

/**
 * Pure encoders for the DS18x20 scratchpad and the kernel's `w1_slave` text: the inverse
 * of src/onewire/scratchpad.ts. Used by the fixture generator, the demo and the bus
 * simulator, so nothing here touches the filesystem or the clock.
 *
 * Scratchpad layout (DS18B20 datasheet, "Memory"): 0-1 temperature LSB/MSB, 2 TH, 3 TL,
 * 4 configuration, 5 reserved 0xff, 6 reserved / COUNT_REMAIN, 7 0x10 / COUNT_PER_C, 8 CRC.
 */

export type Resolution = 9 | 10 | 11 | 12;

export interface EncodeOptions {
  /** Families 22/28/3b/42 only; default 12. Bits below the resolution read as 0. */
  readonly resolution?: Resolution;
  /**
   * Byte 6. Default: what real DS18B20s show, 0x10 − (LSB & 0x0f). The power-on reset
   * scratchpad has 0x0c (see COUNT_REMAIN_POWER_ON). Not allowed for family 10,
   * where byte 6 is the COUNT_REMAIN that carries the extra resolution.
   */
  readonly countRemain?: number;
  /** Alarm limits in whole °C (bytes 2 and 3); default TH 75 (0x4b), TL 70 (0x46). */
  readonly th?: number;
  readonly tl?: number;
}

/** Byte 6 of the DS18B20 power-on scratchpad `50 05 4b 46 7f ff 0c 10 1c` (85 °C). */
export const COUNT_REMAIN_POWER_ON = 0x0c;

const DS18B20_LIKE = new Set(['22', '28', '3b', '42']);
const COUNT_PER_C = 0x10;

/** Nine scratchpad bytes whose kernel reading is `milli` (or the nearest step below it). */
export function encodeScratchpad(family: string, milli: number, opts: EncodeOptions = {}): Uint8Array {
  const fam = family.toLowerCase();
  const bytes = new Uint8Array(9);
  bytes[2] = (opts.th ?? 75) & 0xff;
  bytes[3] = (opts.tl ?? 70) & 0xff;
  bytes[5] = 0xff;
  bytes[7] = COUNT_PER_C;
  if (DS18B20_LIKE.has(fam)) {
    const resolution = opts.resolution ?? 12;
    // Round to 1/16 °C, then clear the bits this resolution leaves undefined (datasheet: read as 0).
    const reg = Math.round((milli * 16) / 1000) & ~((1 << (12 - resolution)) - 1);
    if (reg < -0x8000 || reg > 0x7fff) throw new RangeError(`${milli} m°C does not fit a 16-bit register`);
    const u16 = reg & 0xffff;
    bytes[0] = u16 & 0xff;
    bytes[1] = u16 >> 8;
    bytes[4] = ((resolution - 9) << 5) | 0x1f;
    bytes[6] = opts.countRemain ?? COUNT_PER_C - (u16 & 0x0f);
  } else if (fam === '10') {
    if (opts.resolution !== undefined || opts.countRemain !== undefined) {
      throw new TypeError('family 10 has no resolution; its COUNT_REMAIN is computed');
    }
    // DS18S20 datasheet: T = TEMP_READ − 0.25 + (COUNT_PER_C − COUNT_REMAIN) / COUNT_PER_C.
    // Pick TEMP_READ (whole °C) so COUNT_REMAIN lands in 1..16.
    const sixteenths = Math.round((milli * 16) / 1000);
    const whole = Math.floor((sixteenths + 4) / 16);
    const rest = sixteenths + 4 - whole * 16; // 0..15 = COUNT_PER_C − COUNT_REMAIN
    // The 0.5 °C bit: set when T ≥ TEMP_READ, as in the reference sample `2d 00 … 0b 10 ab`.
    // Neither the kernel nor OWFS reads it (both shift it out).
    const reg = whole * 2 + (rest >= 4 ? 1 : 0);
    if (reg < -0x100 || reg > 0xff) throw new RangeError(`${milli} m°C is outside the DS18S20 register`);
    bytes[0] = reg & 0xff;
    bytes[1] = reg < 0 ? 0xff : 0x00;
    bytes[4] = 0xff;
    bytes[6] = COUNT_PER_C - rest;
  } else {
    throw new RangeError(`family ${family} is not a w1_therm thermometer`);
  }
  bytes[8] = crc8(bytes.subarray(0, 8));
  return bytes;
}

export interface KernelOptions {
  /**
   * Kernels before 5.11 (no GX20MH01/MAX31850 support): families 22/28/3b/42 are always
   * plain s16 × 1000 / 16, whatever config byte 4 says. The pre-5.8 CRC-failure sample
   * (`ff ff … ff`, t=-62) needs this: the current formula would read 0xff's bit 7 as
   * GX20MH01 14-bit mode and print -15.
   */
  readonly legacy?: boolean;
}

/** The kernel's `t=` value for these scratchpad bytes (w1_therm.c `*_convert_temp`). */
export function kernelMilli(family: string, bytes: ArrayLike<number>, opts: KernelOptions = {}): number {
  const b = (i: number): number => bytes[i] ?? 0;
  const fam = family.toLowerCase();
  if (fam === '10') return ds18s20Milli(b(0), b(1), b(6), b(7));
  if (!DS18B20_LIKE.has(fam)) throw new RangeError(`family ${family} is not a w1_therm thermometer`);
  let bv = b(0) | (b(1) << 8); // u16, little-endian
  if (!opts.legacy && b(4) & 0x80) {
    if (fam === '3b') {
      bv &= 0xfffc; // w1_DS1825_convert_temp: MAX31850 fault + reserved bits
    } else {
      // w1_DS18B20_convert_temp, GX20MH01 13/14-bit: the u16 keeps only the low 16 bits.
      return Math.trunc((s16(((bv << 2) | (b(4) & 3)) & 0xffff) * 1000) / 64);
    }
  }
  return Math.trunc((s16(bv) * 1000) / 16); // C division truncates: 0xffff → -62
}

/** w1_DS18S20_convert_temp, including its C operator precedence and truncation. */
function ds18s20Milli(b0: number, b1: number, countRemain: number, countPerC: number): number {
  if (countPerC === 0) return 0;
  let t = b1 === 0 ? (b0 >> 1) * 1000 : 1000 * (-(0x100 - b0) >> 1);
  t -= 250;
  t += Math.trunc((1000 * (countPerC - countRemain)) / countPerC);
  return t;
}

function s16(u16: number): number {
  return (u16 << 16) >> 16;
}

export interface FormatOptions {
  /** The verdict to print; default: whether byte 8 equals the CRC of bytes 0..7. */
  readonly crcOk?: boolean;
  /** Line 2 holds the last scratchpad that passed the CRC; default: `bytes`. */
  readonly secondLineBytes?: Uint8Array;
}

/** The exact text of `w1_slave` (w1_therm.c `w1_slave_show`): two lines, each ending in `\n`. */
export function formatW1Slave(bytes: Uint8Array, milli: number, opts: FormatOptions = {}): string {
  if (bytes.length !== 9) throw new RangeError(`a scratchpad has 9 bytes, got ${bytes.length}`);
  const crc = crc8(bytes.subarray(0, 8));
  const verdict = (opts.crcOk ?? crc === bytes[8]) ? 'YES' : 'NO';
  return `${hexBytes(bytes)}: crc=${hex2(crc)} ${verdict}\n${hexBytes(opts.secondLineBytes ?? bytes)}t=${milli}\n`;
}

/** Convenience: the `w1_slave` text a healthy sensor of `family` at `milli` would show. */
export function w1SlaveText(family: string, milli: number, opts: EncodeOptions = {}): string {
  const bytes = encodeScratchpad(family, milli, opts);
  return formatW1Slave(bytes, kernelMilli(family, bytes));
}

/** `"72 01 4b … 57 "`: every byte as `%02x ` like the kernel. */
export function hexBytes(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => `${hex2(b)} `).join('');
}

/** Parse `"72 01 4b"` (spaces optional) into bytes. */
export function bytesFromHex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}
