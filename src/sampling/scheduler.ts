import { BusWorker, type WorkerOptions } from './bus-worker.js';
import { blockingLimit, IoGate } from './io-gate.js';
import type { ScheduledSensor, SchedulerOptions } from './schedule.js';
import { StuckReads } from './stuck-reads.js';

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
export type { ScheduledSensor, SchedulerOptions } from './schedule.js';
