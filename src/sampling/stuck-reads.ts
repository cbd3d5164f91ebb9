import type { Logger } from '../log.js';
import type { ReadError } from '../readings/read-result.js';
import type { Clock } from '../system/clock.js';
import type { IoGate } from './io-gate.js';

/**
 * Reads that timed out but never returned. A read of `w1_slave` (or a file on a hung
 * FUSE mount) cannot be cancelled from user space: the libuv thread stays blocked in the
 * kernel, which still holds the bus mutex (platform-facts §1.7). Another read on that
 * bus would only block a second thread of libuv's four, so a bus with a stuck read gets
 * no new read until the old one returns; its sensors fail with `bus_stuck` meanwhile.
 * Logged once when a read sticks and once when it returns, with counts.
 *
 * A stuck read keeps its permit of the shared gate (its thread really is taken). When every
 * permit is held that way, reads on the healthy buses could only wait, unseen, for a kernel
 * that may never answer: they fail with `no_thread` instead, logged once when it starts and
 * once when a thread comes back.
 */
export class StuckReads {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #gate: IoGate;
  readonly #byBus = new Map<string, { sensor: string; since: number; skipped: number }>();
  #total = 0;
  /** Reads refused with no_thread in the current starvation episode, or undefined when none. */
  #starvedSkips: number | undefined;

  constructor(log: Logger, clock: Clock, gate: IoGate) {
    this.#log = log;
    this.#clock = clock;
    this.#gate = gate;
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

  /** True while stuck reads hold every permit of the gate. */
  get starving(): boolean {
    return this.#byBus.size >= this.#gate.limit;
  }

  /** The error to report instead of waiting for a permit, when stuck reads hold every one (counted as a skipped read). */
  starved(): ReadError | undefined {
    if (!this.starving) return undefined;
    this.#starvedSkips = (this.#starvedSkips ?? 0) + 1;
    return { code: 'no_thread', stuck: this.#byBus.size };
  }

  /** A read on `bus`, started at `since`, timed out; `read` settles when the kernel gives the thread back. */
  track(bus: string, sensor: string, since: number, read: Promise<unknown>): void {
    if (this.#byBus.has(bus)) return;
    const entry = { sensor, since, skipped: 0 };
    this.#byBus.set(bus, entry);
    this.#total++;
    this.#log.warn({ bus, sensor, waitedMs: this.#clock.now() - since, stuckReads: this.count }, 'a read did not return: no more reads on this bus until it does');
    if (this.starving) {
      this.#starvedSkips ??= 0;
      this.#log.error({ stuckReads: this.count, threads: this.#gate.limit }, 'every thread for 1-Wire reads is held by a stuck read: no bus can be read until one returns');
      this.#gate.turnAwayWaiters();
    }
    const done = (): void => {
      this.#byBus.delete(bus);
      this.#log.info({ bus, sensor, blockedMs: this.#clock.now() - since, skippedReads: entry.skipped, stuckReads: this.count }, 'the stuck read returned: reading this bus again');
      if (this.#starvedSkips !== undefined && this.#byBus.size < this.#gate.limit) {
        this.#log.info({ skippedReads: this.#starvedSkips, stuckReads: this.count }, 'a thread for 1-Wire reads is free again');
        this.#starvedSkips = undefined;
      }
    };
    read.then(done, done);
  }
}
