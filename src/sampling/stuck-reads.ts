import type { Logger } from '../log.js';
import type { ReadError } from '../sources/source.js';
import type { Clock } from './clock.js';

/**
 * Reads that timed out but never returned. A read of `w1_slave` (or a file on a hung
 * FUSE mount) cannot be cancelled from user space: the libuv thread stays blocked in the
 * kernel, which still holds the bus mutex (platform-facts §1.7). Another read on that
 * bus would only block a second thread of libuv's four, so a bus with a stuck read gets
 * no new read until the old one returns; its sensors fail with `bus_stuck` meanwhile.
 * Logged once when a read sticks and once when it returns, with counts.
 */
export class StuckReads {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #byBus = new Map<string, { sensor: string; since: number; skipped: number }>();
  #total = 0;

  constructor(log: Logger, clock: Clock) {
    this.#log = log;
    this.#clock = clock;
  }

  /** Reads blocked in the kernel right now (each holds a thread-pool thread). */
  get count(): number {
    return this.#byBus.size;
  }

  /** Stuck reads since start. */
  get total(): number {
    return this.#total;
  }

  has(bus: string): boolean {
    return this.#byBus.has(bus);
  }

  /** The error to report instead of reading, when `bus` still has a read in the kernel. */
  blocked(bus: string): ReadError | undefined {
    const stuck = this.#byBus.get(bus);
    if (!stuck) return undefined;
    stuck.skipped++;
    return { code: 'bus_stuck', ms: this.#clock.now() - stuck.since };
  }

  /** A read on `bus`, started at `since`, timed out; `read` settles when the kernel gives the thread back. */
  track(bus: string, sensor: string, since: number, read: Promise<unknown>): void {
    if (this.#byBus.has(bus)) return;
    const entry = { sensor, since, skipped: 0 };
    this.#byBus.set(bus, entry);
    this.#total++;
    this.#log.warn({ bus, sensor, waitedMs: this.#clock.now() - since, stuckReads: this.count }, 'a read did not return: no more reads on this bus until it does');
    const done = (): void => {
      this.#byBus.delete(bus);
      this.#log.info({ bus, sensor, blockedMs: this.#clock.now() - since, skippedReads: entry.skipped, stuckReads: this.count }, 'the stuck read returned: reading this bus again');
    };
    read.then(done, done);
  }
}
