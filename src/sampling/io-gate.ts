/**
 * A fair counting semaphore for calls that block a libuv thread-pool thread for a long
 * time (a w1 read sleeps ~750 ms in the kernel; the trigger write as long). Every fs call
 * of the agent runs on that pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), so
 * without a cap, four busy buses would leave nothing for config reloads, DNS lookups of
 * the broker or the state files. Waiters are served in arrival order, so no bus starves
 * another: each bus holds at most one permit at a time (see BusWorker).
 */
export class IoGate {
  readonly limit: number;
  #inUse = 0;
  readonly #queue: { grant: () => void; refuse: () => void }[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`gate limit must be a positive integer, not ${limit}`);
    this.limit = limit;
  }

  /** A permit now if one is free and nobody waits (the usual case), else undefined: then acquire(). */
  tryAcquire(): (() => void) | undefined {
    if (this.#inUse >= this.limit || this.#queue.length > 0) return undefined;
    this.#inUse++;
    return this.#releaser();
  }

  /** Wait for a permit; resolves with its release function, or undefined if `signal` aborts first or the waiter is turned away. */
  acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    if (this.#inUse < this.limit && this.#queue.length === 0) {
      this.#inUse++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#inUse++;
          resolve(this.#releaser());
        },
        refuse: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(undefined);
        },
      };
      const onAbort = (): void => {
        const i = this.#queue.indexOf(entry);
        if (i >= 0) this.#queue.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  /**
   * Resolve every waiter with undefined. For when the permits will not come back soon (all
   * held by reads stuck in the kernel): waiters report that rather than wait unseen.
   */
  turnAwayWaiters(): void {
    for (const entry of this.#queue.splice(0)) entry.refuse();
  }

  get inUse(): number {
    return this.#inUse;
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inUse--;
      this.#queue.shift()?.grant();
    };
  }
}

/** libuv's pool size as this process started it (UV_THREADPOOL_SIZE, default 4, max 1024). */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/**
 * How many blocking 1-Wire calls may run at once: the pool minus two threads kept for the
 * rest of the agent (config reload, DNS, MQTT state), but at least one.
 */
export function blockingLimit(poolSize: number = threadPoolSize()): number {
  return Math.max(1, poolSize - 2);
}
