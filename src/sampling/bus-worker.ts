import { isRetryable } from '../onewire/validity.js';
import type { ReadResult } from '../readings/read-result.js';
import { CONVERT, READ, untilSettled, type Call, type Outcomes } from './blocking-call.js';
import { BulkPolicy } from './bulk.js';
import type { InFlightRead } from './in-flight.js';
import type { IoGate } from './io-gate.js';
import type { ScheduledSensor, SchedulerOptions } from './schedule.js';
import type { StuckReads } from './stuck-reads.js';

export type WorkerOptions = SchedulerOptions & { readonly gate: IoGate; readonly stuck: StuckReads };

interface Slot {
  sensor: ScheduledSensor;
  due: number;
}

/**
 * The one reader of one bus: sleeps until a sensor is due, then runs a cycle (maybe a
 * bus-wide conversion, then the due sensors one after another). At most one blocking
 * call per bus is ever in the kernel, and each one holds a permit of the shared gate.
 */
export class BusWorker {
  readonly #bus: string;
  readonly #opts: WorkerOptions;
  readonly #policy: BulkPolicy;
  /** Due times sit on a grid from here, so sensors of one bus fall due together. */
  readonly #epoch: number;
  #slots = new Map<string, Slot>();
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  lastCycleMs: number | undefined;

  constructor(bus: string, opts: WorkerOptions) {
    this.#bus = bus;
    this.#opts = opts;
    this.#policy = new BulkPolicy(bus, opts.bulk ?? 'auto', opts.log);
    this.#epoch = opts.clock.now();
  }

  get size(): number {
    return this.#slots.size;
  }

  get bulkRefused(): boolean {
    return this.#policy.refused;
  }

  setSensors(sensors: readonly ScheduledSensor[]): void {
    const now = this.#opts.clock.now();
    const next = new Map<string, Slot>();
    for (const sensor of sensors) {
      const old = this.#slots.get(sensor.key);
      if (!old) {
        next.set(sensor.key, { sensor, due: now });
        continue;
      }
      // The same slot object: a cycle in progress still advances its due time (a replaced
      // slot would be read again at once). A changed interval counts from the last reading.
      old.due = Math.min(old.due, old.due - old.sensor.intervalMs + sensor.intervalMs);
      old.sensor = sensor;
      next.set(sensor.key, old);
    }
    this.#slots = next;
    this.#policy.setMembers(sensors);
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
      // One pass over the slots, every cycle: no copies, no closures.
      const due: Slot[] = [];
      // A sensor due within a tenth of its interval joins a conversion that happens anyway.
      const soon: Slot[] = [];
      let nextAt = Number.POSITIVE_INFINITY;
      for (const slot of this.#slots.values()) {
        if (slot.due <= now) due.push(slot);
        else {
          if (slot.due - now <= slot.sensor.intervalMs / 10) soon.push(slot);
          if (slot.due < nextAt) nextAt = slot.due;
        }
      }
      if (due.length > 0) {
        due.sort((a, b) => a.due - b.due);
        await this.#cycle(due, soon);
        continue;
      }
      await clock.sleep(Number.isFinite(nextAt) ? nextAt - now : 3_600_000, this.#sleepSignal());
    }
  }

  /** Aborts on stop() or on a wake; a new one is made only after a wake has used it up. */
  #sleepSignal(): AbortSignal {
    if (!this.#wakeController || !this.#sleepOn || this.#wakeController.signal.aborted) {
      this.#wakeController = new AbortController();
      this.#sleepOn = AbortSignal.any([this.#abort.signal, this.#wakeController.signal]);
    }
    return this.#sleepOn;
  }
  #sleepOn: AbortSignal | undefined;

  /** One pass: maybe one bus-wide conversion, then every due sensor read one after another. */
  async #cycle(due: Slot[], soon: Slot[]): Promise<void> {
    const { clock } = this.#opts;
    const started = clock.now();
    let order = due;
    const members = [...due, ...soon].map((slot) => ({ slot, device: slot.sensor.device, source: slot.sensor.source }));
    // A read still stuck in the kernel holds the bus: no conversion either (its sensors fail with bus_stuck).
    const bulk = this.#opts.stuck.has(this.#bus) || this.#opts.stuck.starving ? undefined : this.#policy.select(members);
    if (bulk) {
      const convertAll = bulk.source.convertAll?.bind(bulk.source);
      const result = convertAll && (await this.#blocking('therm_bulk_read', () => convertAll(this.#bus), CONVERT));
      if (result && this.#policy.report(result)) {
        // Read the converted ones first: the kernel keeps their result only until the next conversion.
        const fast = new Set(bulk.covered.map((m) => m.slot));
        order = [...fast, ...due.filter((s) => !fast.has(s))];
      }
    }
    for (const slot of order) {
      if (this.#abort.signal.aborted) break;
      if (this.#slots.get(slot.sensor.key) !== slot) continue; // removed or replaced meanwhile
      await this.#readOne(slot.sensor);
      slot.due = alignedNext(this.#epoch, slot.sensor.intervalMs, Math.max(slot.due, started));
    }
    this.lastCycleMs = clock.now() - started;
  }

  get #readTimeout(): number {
    return this.#opts.readTimeoutMs ?? 10_000;
  }

  async #readOne(sensor: ScheduledSensor): Promise<void> {
    const { clock, log, onResult } = this.#opts;
    const retries = this.#opts.retries ?? 1;
    let result = await this.#read(sensor);
    for (let i = 0; i < retries && result && !result.ok && isRetryable(result.error); i++) {
      log.debug({ sensor: sensor.device.name, code: result.error.code, bus: this.#bus }, 'retrying read');
      result = await this.#read(sensor);
    }
    if (!result) return; // stopping
    try {
      // Awaited only when the handler has something to wait for: most readings are handled at once.
      const handled = onResult(sensor, result, clock.now());
      if (handled) await handled;
    } catch (err) {
      log.error({ err, sensor: sensor.device.name }, 'handling a reading failed');
    }
  }

  #read(sensor: ScheduledSensor): Promise<ReadResult | undefined> | ReadResult | undefined {
    return this.#blocking(sensor.device.name, () => sensor.source.read(sensor.device), READ);
  }

  /**
   * Run one call that blocks a pool thread: after the bus's previous call has really
   * returned (a timed-out read still holds its thread and the bus mutex in the kernel),
   * and with a permit from the shared gate. Undefined when the worker stops first. The
   * usual case (bus free, a permit free) starts the call at once, without an await or a timer.
   */
  #blocking<T>(what: string, call: () => Promise<T>, outcomes: Outcomes<T>): Promise<T | undefined> | T {
    // A read that timed out and is still in the kernel: its bus's other sensors fail at once
    // (bus_stuck, so their availability says so) rather than wait unseen behind it.
    if (this.#call && outcomes.notMade) {
      const blocked = this.#opts.stuck.blocked(this.#bus);
      if (blocked) return outcomes.notMade(blocked);
    }
    if (!this.#call && !this.#opts.stuck.starving && !this.#abort.signal.aborted) {
      const release = this.#opts.gate.tryAcquire();
      if (release) return this.#begin(what, call, outcomes, release);
    }
    return this.#blockingWhenFree(what, call, outcomes);
  }

  async #blockingWhenFree<T>(what: string, call: () => Promise<T>, outcomes: Outcomes<T>): Promise<T | undefined> {
    const signal = this.#abort.signal;
    if (this.#call && !(await untilSettled(this.#ended(this.#call), signal))) return undefined;
    let release: (() => void) | undefined;
    while (!release) {
      // Stuck reads hold every permit: say so rather than wait for a kernel that may never answer.
      const starved = this.#opts.stuck.starved();
      if (starved) return outcomes.notMade ? outcomes.notMade(starved) : outcomes.timeout(this.#readTimeout);
      release = this.#opts.gate.tryAcquire() ?? (await this.#opts.gate.acquire(signal));
      if (signal.aborted) {
        release?.();
        return undefined;
      }
    }
    return this.#begin(what, call, outcomes, release);
  }

  /** The call in the kernel now; kept after its timeout until the kernel gives the thread back. */
  #call: Call | undefined;

  #begin<T>(what: string, call: () => Promise<T>, outcomes: Outcomes<T>, release: () => void): Promise<T> {
    const { clock, inFlight, stuck } = this.#opts;
    // Registered until it settles, even after its timeout: the watchdog looks at the oldest.
    const info: InFlightRead = { bus: this.#bus, sensor: what, since: clock.now() };
    inFlight?.add(info);
    return new Promise<T>((resolve) => {
      const current: Call = {
        at: performance.now() + this.#readTimeout,
        expire: () => {
          stuck.track(this.#bus, what, info.since, this.#ended(current));
          resolve(outcomes.timeout(this.#readTimeout));
        },
        done: false,
      };
      this.#call = current;
      this.#armWatch();
      // After a timeout, resolve() does nothing: the result was the timeout.
      const finish = (result: T): void => {
        current.done = true;
        release();
        inFlight?.delete(info);
        if (this.#call === current) this.#call = undefined;
        current.end?.();
        resolve(result);
      };
      let running: Promise<T>;
      try {
        running = call();
      } catch (err) {
        running = Promise.reject(err); // a source need not be an async function
      }
      running.then(finish, (err: unknown) => finish(outcomes.failed(err)));
    });
  }

  /** Settles when the kernel returns `c` (for a call that timed out). */
  #ended(c: Call): Promise<void> {
    if (c.done) return Promise.resolve();
    return (c.ended ??= new Promise<void>((resolve) => (c.end = resolve)));
  }

  /**
   * The timeout of the call in progress. One timer per bus, not one per read: it is armed
   * for a whole timeout and, when it fires early for the call now running, re-armed for
   * what is left, so a bus read a thousand times a second sets about one timer per timeout.
   */
  #watch: NodeJS.Timeout | undefined;

  #armWatch(): void {
    this.#watch ??= setTimeout(this.#onWatch, this.#readTimeout).unref();
  }

  readonly #onWatch = (): void => {
    this.#watch = undefined;
    const current = this.#call;
    if (!current || current.done || current.expired) return;
    const left = current.at - performance.now();
    if (left > 0) {
      this.#watch = setTimeout(this.#onWatch, Math.ceil(left)).unref();
      return;
    }
    current.expired = true;
    current.expire();
  };
}

/**
 * The next point after `after` on the grid `epoch + k × interval`. Every sensor of a bus
 * shares the epoch, so those with equal (or multiple) intervals stay due together and share
 * one conversion; a stall skips missed points instead of catching up.
 */
export function alignedNext(epoch: number, intervalMs: number, after: number): number {
  return epoch + (Math.floor((after - epoch) / intervalMs) + 1) * intervalMs;
}
