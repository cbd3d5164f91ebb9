import type { Logger } from '../log.js';
import type { ReadResult } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import type { Source } from '../sources/source.js';
import type { BulkMode } from './bulk.js';
import { BusWorker, type WorkerOptions } from './bus-worker.js';
import type { Clock } from '../system/clock.js';
import type { InFlightReads } from './in-flight.js';
import { blockingLimit, IoGate } from './io-gate.js';
import { StuckReads } from './stuck-reads.js';

/** One sensor the scheduler polls. `key` is stable across re-plans (the sysfs id). */
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

/**
 * Polls sensors on their intervals. Each bus has one worker that reads its due
 * sensors one after another: the kernel holds the bus mutex for the whole
 * conversion, so parallel reads on one bus only queue up in the thread pool.
 * When several are due it first converts them all at once (bulk.ts). Different
 * buses run concurrently, together never holding more pool threads than the gate allows.
 */
export class Scheduler {
  readonly #opts: WorkerOptions;
  readonly #buses = new Map<string, BusWorker>();
  #running = false;

  constructor(options: SchedulerOptions) {
    const gate = new IoGate(options.maxBlocking ?? blockingLimit());
    this.#opts = { ...options, gate, stuck: new StuckReads(options.log, options.clock, gate) };
  }

  /** Replace the sensor set. Sensors already known keep their next due time; new ones are due now. */
  setSensors(sensors: readonly ScheduledSensor[]): void {
    const byBus = new Map<string, ScheduledSensor[]>();
    for (const s of sensors) {
      const list = byBus.get(s.device.bus) ?? [];
      list.push(s);
      byBus.set(s.device.bus, list);
    }
    for (const [bus, worker] of this.#buses) {
      if (!byBus.has(bus)) {
        worker.stop();
        this.#buses.delete(bus);
      }
    }
    for (const [bus, list] of byBus) {
      let worker = this.#buses.get(bus);
      if (!worker) {
        worker = new BusWorker(bus, this.#opts);
        this.#buses.set(bus, worker);
        if (this.#running) worker.start();
      }
      worker.setSensors(list);
    }
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const worker of this.#buses.values()) worker.start();
  }

  /** Stops polling; resolves when every in-flight read has finished or timed out. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all([...this.#buses.values()].map((w) => w.stop()));
  }

  /** Per bus: how long the last pass over due sensors took, whether it converts in bulk, whether a read is stuck in the kernel. */
  busStats(): { bus: string; sensors: number; lastCycleMs: number | undefined; bulkRefused: boolean; stuck: boolean }[] {
    return [...this.#buses.entries()].map(([bus, w]) => ({ bus, sensors: w.size, lastCycleMs: w.lastCycleMs, bulkRefused: w.bulkRefused, stuck: this.#opts.stuck.has(bus) }));
  }
}

export { alignedNext } from './bus-worker.js';
