import type { Logger } from '../log.js';
import { thermometerFamily } from '../readings/families.js';
import { describeError, type ConvertResult } from '../readings/read-result.js';
import { type Device } from '../readings/device.js';
import { type Source } from '../sources/source.js';

/** `bulk_read` in sensors.yaml. */
export type BulkMode = 'auto' | 'always' | 'never';

/** Takes part in a bus-wide CONVERT T: w1_therm's `.bulk_read` (every DS18x20 but the DS28EA00). */
export function bulkCapable(device: Device): boolean {
  return thermometerFamily(device.id.family)?.bulkRead === true;
}

interface Member {
  readonly device: Device;
  readonly source: Source;
}

/**
 * When one bus converts all its sensors at once, and what happens when it cannot.
 *
 * - Two or more due, bulk-capable sensors of a source that can convertAll() share one
 *   conversion (conv_time + N × a scratchpad read instead of N × conv_time).
 * - A refused trigger (EACCES without the udev rule, EROFS under ProtectKernelTunables or
 *   a read-only FUSE mount, no therm_bulk_read before kernel 5.8) turns bulk conversion off
 *   for this bus, logged once; reads go one by one as before.
 * - A transient failure falls back for that cycle only, logged when it starts and ends.
 * - Parasite power (`ext_power` = 0): a bus-wide CONVERT T makes every sensor draw its
 *   conversion current (up to 1.5 mA each, DS18B20 datasheet) from the same strong
 *   pull-up at once, where one by one each gets it alone. In `auto` a bus with any
 *   parasite-powered sensor is read one by one; `always` converts it in bulk anyway (the
 *   kernel then holds the strong pull-up for the whole conversion: trigger_bulk_read).
 */
export class BulkPolicy {
  readonly #bus: string;
  readonly #mode: BulkMode;
  readonly #log: Logger;
  #parasite = false;
  #parasiteLogged = false;
  #refused = false;
  #failing: string | undefined;

  constructor(bus: string, mode: BulkMode, log: Logger) {
    this.#bus = bus;
    this.#mode = mode;
    this.#log = log;
  }

  /** Every sensor on the bus (a bulk conversion converts them all, due or not). */
  setMembers(members: readonly Member[]): void {
    this.#parasite = members.some((m) => m.device.parasite === true);
  }

  get refused(): boolean {
    return this.#refused;
  }

  /** The source to convert through and the due sensors it covers; undefined → one by one. */
  select<T extends Member>(due: readonly T[]): { source: Source; covered: T[] } | undefined {
    if (this.#mode === 'never' || this.#refused) return undefined;
    const first = due.find((m) => bulkCapable(m.device) && m.source.convertAll !== undefined);
    if (!first) return undefined;
    const covered = due.filter((m) => m.source === first.source && bulkCapable(m.device));
    if (covered.length < 2) return undefined;
    if (this.#parasite && this.#mode === 'auto') {
      if (!this.#parasiteLogged) {
        this.#parasiteLogged = true;
        this.#log.info({ bus: this.#bus }, 'bus has parasite-powered sensors: converting them one at a time (set bulk_read: always to convert all at once)');
      }
      return undefined;
    }
    return { source: first.source, covered };
  }

  /** What the conversion gave; returns true when the covered sensors may be read fast. */
  report(result: ConvertResult): boolean {
    if (result.ok) {
      if (this.#failing !== undefined) this.#log.info({ bus: this.#bus, code: this.#failing }, 'bulk conversion works again');
      this.#failing = undefined;
      return true;
    }
    const message = describeError(result.error);
    if (result.permanent) {
      this.#refused = true;
      this.#log.warn(
        { bus: this.#bus, code: result.error.code, error: result.error },
        `bulk conversion refused (${message}): reading sensors one by one from now on; see README "Bus speed" for the udev rule`,
      );
      return false;
    }
    if (this.#failing !== result.error.code) {
      this.#log.warn({ bus: this.#bus, code: result.error.code, error: result.error }, `bulk conversion failed (${message}): reading one by one until it works`);
    }
    this.#failing = result.error.code;
    return false;
  }
}
