import type { Logger } from '../log.js';
import type { ReadResult } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import type { Source } from '../sources/source.js';
import type { Clock } from '../system/clock.js';
import type { BulkMode } from './bulk.js';
import type { InFlightReads } from './in-flight.js';

// Apart from the Scheduler so that its bus workers name these without importing it back.

/**
 * One sensor the scheduler polls: which device, through which reader, how often. The
 * only record that carries a reader: results leave the scheduler by `key` (stable across
 * re-plans: the sysfs id, plus `/<measurement>`), and the agent routes them from there.
 */
export interface ScheduledSensor {
  readonly key: string;
  readonly device: Device;
  readonly source: Source;
  readonly intervalMs: number;
}

export interface SchedulerOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** Called once per read (after retries), in bus order. Errors are logged, never fatal. */
  readonly onResult: (sensor: ScheduledSensor, result: ReadResult, at: number) => void | Promise<void>;
  /** A read that takes longer gives a `timeout` result (the kernel thread may still be busy). */
  readonly readTimeoutMs?: number;
  /** Extra reads after a power-on value, a CRC error or an empty read. @default 1 */
  readonly retries?: number;
  /** Registers every read until it settles, even after its timeout (for the watchdog). */
  readonly inFlight?: InFlightReads;
  /** `bulk_read` from sensors.yaml: when a bus converts all its sensors at once. @default auto */
  readonly bulk?: BulkMode;
  /** Cap on blocking calls across all buses. @default pool size − 2 (see io-gate.ts) */
  readonly maxBlocking?: number;
}
