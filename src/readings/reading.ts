/**
 * One good reading as every consumer takes it (the outbox, the page, stats): in its
 * unit, the sensor's calibration offset already applied. The agent calibrates each
 * read once, so what is published and what is shown cannot drift apart.
 */
export interface Reading {
  /** The route's key: the sysfs id, plus `/<measurement>` for a device's further ones. */
  readonly key: string;
  /** In `unit`, offset applied; a presence is 1 (there) or 0 (gone). */
  readonly value: number;
  /** `°C`, `%`, `V`; empty for presence. */
  readonly unit: string;
  /** Clock time (ms) the read finished. */
  readonly at: number;
}

/** A read's value in thousandths of its unit (read-result.ts), calibrated by `offset`. */
export function calibrated(key: string, milli: number, offset: number, unit: string, at: number): Reading {
  return { key, value: milli / 1000 + offset, unit, at };
}
