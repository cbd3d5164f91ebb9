/**
 * Reads that have started and not yet settled, including the ones the scheduler
 * gave up on after its timeout: such a read still holds a libuv thread (and, on a
 * real bus, the kernel's bus mutex). The oldest one tells the systemd watchdog
 * whether the agent is still doing its job or is stuck in a read that never
 * returns (a hung FUSE mount, a wedged bus master).
 */
export interface InFlightRead {
  readonly bus: string;
  readonly sensor: string;
  /** Clock time the read started. */
  readonly since: number;
}

export class InFlightReads {
  readonly #reads = new Set<InFlightRead>();

  /** Registers `read` until it settles; returns it unchanged. */
  track<T>(read: Promise<T>, info: InFlightRead): Promise<T> {
    this.add(info);
    const done = (): void => this.delete(info);
    read.then(done, done);
    return read;
  }

  /** A read starts (the caller deletes it when it settles: no promise needed on the hot path). */
  add(info: InFlightRead): void {
    this.#reads.add(info);
  }

  delete(info: InFlightRead): void {
    this.#reads.delete(info);
  }

  get size(): number {
    return this.#reads.size;
  }

  /** The read that has been waiting longest, if any. */
  oldest(): InFlightRead | undefined {
    let oldest: InFlightRead | undefined;
    for (const read of this.#reads) if (!oldest || read.since < oldest.since) oldest = read;
    return oldest;
  }
}
