/**
 * 1-Wire family codes this agent understands. Source: the "Supported family codes"
 * table of Documentation/w1/slaves/w1_therm.rst and the #defines in drivers/w1/slaves.
 */
export interface FamilyInfo {
  /** Family code as two lowercase hex digits, as the kernel prints it. */
  readonly code: string;
  readonly chip: string;
  /** Takes part in a bus-wide CONVERT T (the kernel's `.bulk_read`). */
  readonly bulkRead: boolean;
  /** Has a configurable resolution (DS18S20 is fixed at 9 bits + extended counts). */
  readonly resolution: boolean;
}

const THERMOMETERS: readonly FamilyInfo[] = [
  { code: '10', chip: 'DS18S20', bulkRead: true, resolution: false },
  { code: '22', chip: 'DS1822', bulkRead: true, resolution: true },
  { code: '28', chip: 'DS18B20', bulkRead: true, resolution: true },
  { code: '3b', chip: 'DS1825/MAX31850', bulkRead: true, resolution: true },
  // DS28EA00 has `.bulk_read = false` in w1_therm.c: it always converts on its own.
  { code: '42', chip: 'DS28EA00', bulkRead: false, resolution: true },
];

const OTHER_CHIPS: Readonly<Record<string, string>> = {
  '01': 'DS2401',
  '05': 'DS2405',
  '12': 'DS2406',
  '1d': 'DS2423',
  '26': 'DS2438',
  '29': 'DS2408',
  '3a': 'DS2413',
  '81': 'DS1420',
};

const BY_CODE = new Map(THERMOMETERS.map((f) => [f.code, f]));

/** The thermometer family for a code (any case), or undefined for other chips. */
export function thermometerFamily(code: string): FamilyInfo | undefined {
  return BY_CODE.get(code.toLowerCase());
}

/** A human name for any family code, thermometer or not. */
export function chipName(code: string): string {
  const lower = code.toLowerCase();
  return BY_CODE.get(lower)?.chip ?? OTHER_CHIPS[lower] ?? `family 0x${lower}`;
}
