/**
 * The outbox's periodic work (resend, spill to disk, delivery mark, fsync) on a timer that
 * runs only while there is some: `run` says whether to keep going, and wake() starts it
 * again. An idle agent's event loop is then not woken every second for an empty queue,
 * which was the larger part of its CPU with a few sensors read every few minutes.
 */
export class Housekeeping {
  readonly #run: () => boolean;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(run: () => boolean, everyMs: number) {
    this.#run = run;
    this.#everyMs = everyMs;
  }

  /** True while the timer sleeps (nothing to do until the next wake()). */
  get asleep(): boolean {
    return this.#timer === undefined;
  }

  wake(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#run()) this.#sleep();
    }, this.#everyMs);
    this.#timer.unref();
  }

  /** For good: wake() does nothing after this. */
  stop(): void {
    this.#stopped = true;
    this.#sleep();
  }

  #sleep(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
