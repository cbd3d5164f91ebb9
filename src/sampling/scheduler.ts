import type { Logger } from '../log.js';
import { isRetryable } from '../onewire/validity.js';
import type { Device, ReadResult, Source } from '../sources/source.js';
import type { Clock } from './clock.js';
import type { InFlightReads } from './in-flight.js';

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
}

interface Slot {
  sensor: ScheduledSensor;
  due: number;
}

/**
 * Polls sensors on their intervals. Each bus has one worker that reads its due
 * sensors one after another: the kernel holds the bus mutex for the whole
 * conversion, so parallel reads on one bus only queue up in the thread pool.
 * Different buses run concurrently.
 */
export class Scheduler {
  readonly #opts: SchedulerOptions;
  readonly #buses = new Map<string, BusWorker>();
  #running = false;

  constructor(options: SchedulerOptions) {
    this.#opts = options;
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

  /** Per bus: when the last pass over due sensors ended and how long it took. */
  busStats(): { bus: string; sensors: number; lastCycleMs: number | undefined }[] {
    return [...this.#buses.entries()].map(([bus, w]) => ({ bus, sensors: w.size, lastCycleMs: w.lastCycleMs }));
  }
}

class BusWorker {
  readonly #bus: string;
  readonly #opts: SchedulerOptions;
  #slots = new Map<string, Slot>();
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  lastCycleMs: number | undefined;

  constructor(bus: string, opts: SchedulerOptions) {
    this.#bus = bus;
    this.#opts = opts;
  }

  get size(): number {
    return this.#slots.size;
  }

  setSensors(sensors: readonly ScheduledSensor[]): void {
    const now = this.#opts.clock.now();
    const next = new Map<string, Slot>();
    for (const sensor of sensors) {
      const old = this.#slots.get(sensor.key);
      // A changed interval takes effect from the last reading, not from the old due time.
      const due = old ? Math.min(old.due, old.due - old.sensor.intervalMs + sensor.intervalMs) : now;
      next.set(sensor.key, { sensor, due });
    }
    this.#slots = next;
    this.#wake();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  /** Interrupt the sleep so a new sensor set is looked at now. */
  #wake(): void {
    if (!this.#loop || this.#abort.signal.aborted) return;
    this.#wakeController?.abort();
  }
  #wakeController: AbortController | undefined;

  async #run(): Promise<void> {
    const { clock } = this.#opts;
    while (!this.#abort.signal.aborted) {
      const now = clock.now();
      const due = [...this.#slots.values()].filter((s) => s.due <= now).sort((a, b) => a.due - b.due);
      if (due.length > 0) {
        const started = clock.now();
        for (const slot of due) {
          if (this.#abort.signal.aborted) break;
          if (this.#slots.get(slot.sensor.key) !== slot) continue; // removed or replaced meanwhile
          await this.#readOne(slot.sensor);
          slot.due = nextDue(slot.due, slot.sensor.intervalMs, clock.now());
        }
        this.lastCycleMs = clock.now() - started;
        continue;
      }
      const nextAt = Math.min(...[...this.#slots.values()].map((s) => s.due));
      this.#wakeController = new AbortController();
      const signal = AbortSignal.any([this.#abort.signal, this.#wakeController.signal]);
      await clock.sleep(Number.isFinite(nextAt) ? nextAt - now : 3_600_000, signal);
    }
  }

  async #readOne(sensor: ScheduledSensor): Promise<void> {
    const { clock, log, onResult } = this.#opts;
    const retries = this.#opts.retries ?? 1;
    let result = await this.#readWithTimeout(sensor);
    for (let i = 0; i < retries && !result.ok && isRetryable(result.error) && !this.#abort.signal.aborted; i++) {
      log.debug({ sensor: sensor.device.name, code: result.error.code, bus: this.#bus }, 'retrying read');
      result = await this.#readWithTimeout(sensor);
    }
    try {
      await onResult(sensor, result, clock.now());
    } catch (err) {
      log.error({ err, sensor: sensor.device.name }, 'handling a reading failed');
    }
  }

  async #readWithTimeout(sensor: ScheduledSensor): Promise<ReadResult> {
    const ms = this.#opts.readTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ReadResult>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: { code: 'timeout', ms } }), ms);
    });
    try {
      const started = sensor.source.read(sensor.device);
      this.#opts.inFlight?.track(started, { bus: this.#bus, sensor: sensor.device.name, since: this.#opts.clock.now() });
      const read = started.catch((err: unknown): ReadResult => ({
        ok: false,
        error: { code: 'io_error', errno: 'EUNKNOWN', message: err instanceof Error ? err.message : String(err) },
      }));
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Keep a fixed cadence (no drift), but never queue up missed slots after a stall. */
export function nextDue(previousDue: number, intervalMs: number, now: number): number {
  const next = previousDue + intervalMs;
  if (next > now) return next;
  return now + intervalMs - ((now - previousDue) % intervalMs);
}
