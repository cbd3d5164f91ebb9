import type { Device } from '../readings/device.js';
import type { ConvertResult, ReadResult } from '../readings/read-result.js';

/**
 * A place 1-Wire devices are read from (kernel sysfs, OWFS mount, owserver).
 * Implementations do only I/O and parsing; scheduling and validity policy live
 * elsewhere so every source behaves the same.
 */
export interface Source {
  /** Human-readable, for logs and `scan`: `w1:/sys/bus/w1/devices`. */
  readonly name: string;
  /** Devices of the kinds in readings/kinds.ts currently present (other families are left out). */
  list(): Promise<Device[]>;
  /** One reading of one device; never throws for device-level faults. */
  read(device: Device): Promise<ReadResult>;
  /**
   * Optional: start one temperature conversion for every sensor on `bus` at once
   * (kernel `therm_bulk_read`, OWFS `simultaneous/temperature`), after which
   * `read()` of those devices only fetches the result. `permanent` failures
   * (EACCES, EROFS) mean: stop trying and read one by one.
   */
  convertAll?(bus: string): Promise<ConvertResult>;
  /** Release connections and handles; idempotent. */
  close(): Promise<void>;
}
