/**
 * Slows password guessing at the page, per client address: the first few wrong passwords
 * cost nothing (a user mistyping), then the address is refused (429, without looking at
 * the password) for a time that doubles with each further wrong one, up to a minute. A
 * right password clears the address. 32 000 guesses in 10 s become about ten.
 */

export interface AuthThrottleOptions {
  /** Wrong passwords in a row allowed before the address waits. @default 5 */
  readonly freeFailures?: number;
  /** The first wait; each further wrong password doubles it. @default 1 s */
  readonly firstWaitMs?: number;
  /** @default 60 s */
  readonly maxWaitMs?: number;
  /** Addresses remembered; past this the oldest is forgotten (a flood of addresses costs bounded memory). @default 4096 */
  readonly maxAddresses?: number;
  readonly now?: () => number;
}

interface Failures {
  count: number;
  until: number;
}

export class AuthThrottle {
  readonly #free: number;
  readonly #first: number;
  readonly #max: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  readonly #byAddress = new Map<string, Failures>();

  constructor(options: AuthThrottleOptions = {}) {
    this.#free = options.freeFailures ?? 5;
    this.#first = options.firstWaitMs ?? 1_000;
    this.#max = options.maxWaitMs ?? 60_000;
    this.#maxAddresses = options.maxAddresses ?? 4096;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds this address must still wait before a password of its is checked; 0 when it may try. */
  waitMs(address: string): number {
    const f = this.#byAddress.get(address);
    return f ? Math.max(0, f.until - this.#now()) : 0;
  }

  /** A wrong password from `address`: returns how many in a row it has now sent. */
  failed(address: string): number {
    const f = this.#byAddress.get(address) ?? { count: 0, until: 0 };
    f.count++;
    if (f.count >= this.#free) f.until = this.#now() + Math.min(this.#max, this.#first * 2 ** (f.count - this.#free));
    // Re-inserted so the Map's order is oldest-failure first.
    this.#byAddress.delete(address);
    this.#byAddress.set(address, f);
    if (this.#byAddress.size > this.#maxAddresses) {
      const oldest = this.#byAddress.keys().next().value;
      if (oldest !== undefined) this.#byAddress.delete(oldest);
    }
    return f.count;
  }

  succeeded(address: string): void {
    this.#byAddress.delete(address);
  }
}
