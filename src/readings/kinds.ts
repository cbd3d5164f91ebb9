import { chipName } from './families.js';

/**
 * The device kinds w1mqtt reads: which 1-Wire families, what each measures, and how
 * every source gets each measurement. Adding a kind is one entry in KINDS (and, for a
 * new way of reading, one recipe below); sources, plan, scan, the page and payloads
 * follow from here.
 */

/** What a measurement is of: decides its unit and how it is published. */
export type Quantity = 'temperature' | 'humidity' | 'voltage' | 'presence';

/** A measurement's key in sensors.yaml (`humidity: {topic: …}`). */
export const MEASUREMENT_NAMES = ['temperature', 'humidity', 'voltage', 'vdd', 'presence'] as const;
export type MeasurementName = (typeof MEASUREMENT_NAMES)[number];

/** How the kernel's w1 drivers show a measurement (platform-facts §1.3). */
export type W1Recipe =
  /** w1_therm's `w1_slave`: the DS18x20 path of the w1 source, scratchpad checks and all. */
  | { readonly kind: 'w1_slave' }
  /** Integer attributes ("%i\n"), each divided by its divisor, then combined (default: the first). */
  | { readonly kind: 'attributes'; readonly files: readonly { readonly file: string; readonly divisor: number }[]; readonly combine?: (values: readonly number[]) => number }
  /** The slave's directory exists under /sys/bus/w1/devices. */
  | { readonly kind: 'presence' };

/** How OWFS (FUSE mount and owserver) shows it: a property file, or the device's presence. */
export type OwfsRecipe = { readonly kind: 'property'; readonly property: string } | { readonly kind: 'presence' };

export interface Measurement {
  readonly name: MeasurementName;
  readonly quantity: Quantity;
  /** Words for labels and `scan`: "supply voltage". */
  readonly title: string;
  /** As shown on the page and given to Home Assistant: `°C`, `%`, `V`; empty for presence. */
  readonly unit: string;
  /** The last level of the default topic: `<base_topic>/1wire/<id>/<suffix>`. */
  readonly suffix: string;
  /** Decimals published; undefined: `mqtt.decimals`. */
  readonly decimals: number | undefined;
  /** Readings outside (in `unit`) are refused as `out_of_range`; undefined for presence. */
  readonly range: { readonly min: number; readonly max: number } | undefined;
  readonly w1: W1Recipe;
  readonly owfs: OwfsRecipe;
}

export interface DeviceKind {
  readonly family: string;
  readonly chip: string;
  /** The first is the device's main one: the one a bare `topic:` in sensors.yaml names. */
  readonly measurements: readonly Measurement[];
}

/** The DS18x20's operating range, °C: datasheets "−55°C to +125°C"; outside it a value is a fault, not a reading. */
export const DS18X20_RANGE = { min: -55, max: 125 } as const;

const DS18X20_TEMPERATURE: Measurement = {
  name: 'temperature', quantity: 'temperature', title: 'temperature', unit: '°C', suffix: 'temperature',
  decimals: undefined, range: DS18X20_RANGE,
  w1: { kind: 'w1_slave' }, owfs: { kind: 'property', property: 'temperature' },
};

/**
 * Relative humidity of an HIH-3600/4000 on the DS2438's VAD input, supplied from VDD:
 * OWFS's own formula (owfs module/owlib/src/c/ow_2438.c, FS_Humid), so the kernel
 * source and OWFS give the same number for the same chip.
 */
export function hihHumidity(vad: number, vdd: number, celsius: number): number {
  return (vad / vdd - 0.8 / vdd) / (0.0062 * (1.0546 - 0.00216 * celsius));
}

// w1_ds2438.c: `temperature` is the raw register (1/256 °C), `vad`/`vdd` the 10-bit
// A/D in 10 mV steps (Documentation/w1/slaves/w1_ds2438.rst: "divided by 256", "by 100").
const DS2438_T = { file: 'temperature', divisor: 256 } as const;
const DS2438_VAD = { file: 'vad', divisor: 100 } as const;
const DS2438_VDD = { file: 'vdd', divisor: 100 } as const;
/** The A/D has 10 bits of 10 mV: 0 … 10.23 V (DS2438 datasheet, "Voltage A/D"). */
const DS2438_VOLTS = { min: 0, max: 10.23 } as const;

const DS2438: DeviceKind = {
  family: '26',
  chip: chipName('26'),
  measurements: [
    // DS2438 datasheet: "Temperature sensor … ±2°C accuracy, −40°C to +85°C".
    { ...DS18X20_TEMPERATURE, range: { min: -40, max: 85 }, w1: { kind: 'attributes', files: [DS2438_T] } },
    {
      // A little outside 0…100 % is an HIH's tolerance (±3.5 %); far outside is no
      // humidity sensor on VAD (open input: about −25 %).
      name: 'humidity', quantity: 'humidity', title: 'humidity', unit: '%', suffix: 'humidity', decimals: 1, range: { min: -10, max: 110 },
      w1: { kind: 'attributes', files: [DS2438_VAD, DS2438_VDD, DS2438_T], combine: ([vad = 0, vdd = 0, t = 0]) => hihHumidity(vad, vdd, t) },
      owfs: { kind: 'property', property: 'humidity' },
    },
    {
      name: 'voltage', quantity: 'voltage', title: 'voltage (VAD)', unit: 'V', suffix: 'voltage', decimals: 2, range: DS2438_VOLTS,
      w1: { kind: 'attributes', files: [DS2438_VAD] }, owfs: { kind: 'property', property: 'VAD' },
    },
    {
      name: 'vdd', quantity: 'voltage', title: 'supply voltage (VDD)', unit: 'V', suffix: 'vdd', decimals: 2, range: DS2438_VOLTS,
      w1: { kind: 'attributes', files: [DS2438_VDD] }, owfs: { kind: 'property', property: 'VDD' },
    },
  ],
};

/** DS2401 serial number / DS1990A iButton (same family): nothing to read but being there. */
const DS2401: DeviceKind = {
  family: '01',
  chip: chipName('01'),
  measurements: [
    {
      name: 'presence', quantity: 'presence', title: 'presence', unit: '', suffix: 'presence', decimals: undefined, range: undefined,
      w1: { kind: 'presence' }, owfs: { kind: 'presence' },
    },
  ],
};

const KINDS: readonly DeviceKind[] = [
  ...['10', '22', '28', '3b', '42'].map((family) => ({ family, chip: chipName(family), measurements: [DS18X20_TEMPERATURE] })),
  DS2438,
  DS2401,
];

const BY_FAMILY = new Map(KINDS.map((k) => [k.family, k]));

/** The kind of a family code (any case), or undefined for chips w1mqtt does not read. */
export function deviceKind(family: string): DeviceKind | undefined {
  return BY_FAMILY.get(family.toLowerCase());
}

/** Every kind, for docs and error messages. */
export function deviceKinds(): readonly DeviceKind[] {
  return KINDS;
}
