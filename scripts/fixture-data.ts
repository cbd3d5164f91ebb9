import type { ReadErrorCode } from '../src/readings/read-result.js';
import type { Resolution } from '../src/onewire/scratchpad-encode.js';

/**
 * The sensor table behind fixtures/w1 and fixtures/owfs. Scratchpads are encoded with
 * src/onewire/scratchpad-encode.ts; where platform-facts.md §1.4 gives the exact bytes, they
 * are repeated in `hex` and the generator refuses to write anything that differs.
 */

/** How `w1_slave` reads for this slave. */
export type W1Read =
  /** A scratchpad encoded from a temperature: the normal case and the "suspicious value" ones. */
  | {
      readonly kind: 'encode';
      readonly milli: number;
      readonly resolution?: Resolution;
      readonly countRemain?: number;
      /** The bytes platform-facts §1.4 prints for this case, checked by the generator. */
      readonly hex?: string;
    }
  /** Literal bytes. `secondLineHex` and `legacy` make the pre-5.8 "crc=.. NO" form. */
  | { readonly kind: 'raw'; readonly hex: string; readonly secondLineHex?: string; readonly legacy?: boolean }
  /** Kernel ≥ 5.8 on any failure: `w1_slave` and `temperature` read as 0 bytes. */
  | { readonly kind: 'empty' }
  /** w1_smem (DS2401): the slave directory holds only `name` and `id`. */
  | { readonly kind: 'none' }
  /**
   * w1_ds2438: the raw registers its attributes print (Documentation/w1/slaves/w1_ds2438.rst):
   * `temperature` in 1/256 °C, `vad`/`vdd` in 10 mV, `iad` the current register.
   */
  | { readonly kind: 'ds2438'; readonly temperature: number; readonly vad: number; readonly vdd: number; readonly iad: number };

export interface W1SlaveSpec {
  readonly id: string;
  readonly bus: 1 | 2;
  readonly what: string;
  /** What src/onewire/scratchpad.ts `readingFromW1Slave` must make of it; `no_w1_slave` for the non-w1_therm chips. */
  readonly expect: 'ok' | ReadErrorCode | 'no_w1_slave';
  readonly read: W1Read;
}

export const W1_SLAVES: readonly W1SlaveSpec[] = [
  { id: '28-0316a2792dff', bus: 1, what: 'living room, the widely quoted sample', expect: 'ok',
    read: { kind: 'encode', milli: 23125, hex: '72 01 4b 46 7f ff 0e 10 57' } },
  { id: '28-0316a27a1c44', bus: 1, what: 'kitchen; kernel truncates 25.0625 to 25062', expect: 'ok',
    read: { kind: 'encode', milli: 25062, hex: '91 01 4b 46 7f ff 0f 10 25' } },
  { id: '28-3c01d607e1a2', bus: 1, what: 'freezer, negative value', expect: 'ok',
    read: { kind: 'encode', milli: -10125, hex: '5e ff 4b 46 7f ff 02 10 b6' } },
  { id: '28-3c01d6075b3e', bus: 1, what: 'outside, −0.0625 °C: C truncation gives -62, not -63', expect: 'ok',
    read: { kind: 'encode', milli: -62, hex: 'ff ff 4b 46 7f ff 01 10 9a' } },
  { id: '28-0000054c2ba1', bus: 1, what: 'hallway, 9-bit resolution (config 0x1f, conv_time 95)', expect: 'ok',
    read: { kind: 'encode', milli: 21500, resolution: 9, hex: '58 01 4b 46 1f ff 08 10 69' } },
  { id: '10-000802b4a1c3', bus: 1, what: 'DS18S20, COUNT_REMAIN gives 22.0625 (kernel: 22062)', expect: 'ok',
    read: { kind: 'encode', milli: 22062, hex: '2d 00 4b 46 ff ff 0b 10 ab' } },
  { id: '28-01192e4f6a10', bus: 1, what: 'power-on reset value 85 °C, byte 6 = 0x0c', expect: 'power_on_reset',
    read: { kind: 'encode', milli: 85000, countRemain: 0x0c, hex: '50 05 4b 46 7f ff 0c 10 1c' } },
  { id: '28-01192e4f8b27', bus: 1, what: 'insufficient power, 0x07ff = 127.9375 °C', expect: 'insufficient_power',
    read: { kind: 'encode', milli: 127937, countRemain: 0x0c, hex: 'ff 07 4b 46 7f ff 0c 10 a6' } },
  { id: '28-0000072d91f5', bus: 1, what: 'all-zero scratchpad: passes the CRC, t=0', expect: 'all_zero',
    read: { kind: 'raw', hex: '00 00 00 00 00 00 00 00 00' } },
  { id: '28-0000072d3e08', bus: 1, what: 'kernel < 5.8 CRC failure: `crc=c9 NO`, t=-62', expect: 'crc_mismatch',
    read: { kind: 'raw', hex: 'ff ff ff ff ff ff ff ff ff', secondLineHex: '72 01 4b 46 7f ff 0e 10 57', legacy: true } },
  { id: '28-0316a27b9d52', bus: 1, what: 'kernel ≥ 5.8 failure: `w1_slave` and `temperature` are empty', expect: 'empty_read',
    read: { kind: 'empty' } },
  { id: '01-0000efbeadde', bus: 1, what: 'DS2401 serial number (or a DS1990A iButton): presence only', expect: 'no_w1_slave',
    read: { kind: 'none' } },
  { id: '22-00000053e8a1', bus: 2, what: 'DS1822, garage', expect: 'ok', read: { kind: 'encode', milli: 19500 } },
  { id: '3b-0000001852ad', bus: 2, what: 'DS1825, boiler flow', expect: 'ok', read: { kind: 'encode', milli: 30250 } },
  { id: '42-00000014a7e2', bus: 2, what: 'DS28EA00 (has `w1_seq`, no bulk read), cellar', expect: 'ok',
    read: { kind: 'encode', milli: 18062 } },
  // 21.84375 °C, VAD 2.35 V, VDD 4.98 V: the same chip and values as fixtures/owfs 26.3B9A01000000.
  { id: '26-000000019a3b', bus: 2, what: 'DS2438 humidity board (HIH-4000 on VAD), bathroom', expect: 'no_w1_slave',
    read: { kind: 'ds2438', temperature: 5592, vad: 235, vdd: 498, iad: 0 } },
];

/** The chip name OWFS puts in `type` (platform-facts §2.3). */
export const OWFS_TYPE: Readonly<Record<string, string>> = {
  '01': 'DS2401',
  '10': 'DS18S20',
  '22': 'DS1822',
  '26': 'DS2438',
  '28': 'DS18B20',
  '3b': 'DS1825',
  '42': 'DS28EA00',
};

/** Thermometers in the OWFS tree: the same chips as in fixtures/w1, read by OWFS. */
export interface OwfsThermSpec {
  /** Sysfs id of the same chip in W1_SLAVES; the OWFS name is derived with parseDeviceId. */
  readonly sysfs: string;
  /** Right-align every number in 12 columns, as owserver and OWFS 2.x FUSE do. */
  readonly padded?: boolean;
}

export const OWFS_THERMOMETERS: readonly OwfsThermSpec[] = [
  { sysfs: '28-0316a2792dff' },
  { sysfs: '10-000802b4a1c3' },
  { sysfs: '22-00000053e8a1' },
  { sysfs: '28-0316a27a1c44', padded: true },
];

/**
 * Other OWFS devices, with their property files verbatim (platform-facts §2.10). The DS2438's
 * `humidity` is what OWFS computes from the VAD, VDD and temperature beside it (ow_2438.c
 * FS_Humid, printed %G), so it agrees with the kernel twin in fixtures/w1.
 */
export const OWFS_OTHERS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '26.3B9A01000000': { temperature: '21.8438', humidity: '49.8312', VAD: '2.35', VDD: '4.98' },
  '01.DEADBEEF0000': {},
};

/** Files outside the device directories, verbatim. */
export const OWFS_SYSTEM_FILES: Readonly<Record<string, string>> = {
  'simultaneous/temperature': '0',
  'settings/units/temperature_scale': 'C',
  'settings/timeout/volatile': '15',
  'bus.0/interface/settings/name': 'Simulated-Random',
  'system/configuration/version': '3.2p4',
  'structure/28/temperature': 't,000000,000001,ro,000012,v,',
  'statistics/read/calls': '0',
  // No device is in alarm state, so alarm/ is empty on a real mount; git needs a file.
  'alarm/.gitkeep': '',
};
