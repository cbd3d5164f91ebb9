import type { Logger } from '../log.js';

/**
 * The outbox's counters and its two recurring conditions, each logged once when it
 * starts and once when it ends, with counts: queueing on disk (from the first write
 * until the queue is empty again: a broker outage, or acknowledgements that lag) and
 * dropping (the queue at its limit).
 */

export type Outcome = 'delivered' | 'dropped' | 'superseded';

interface Episode {
  since: number;
  delivered: number;
  dropped: number;
  superseded: number;
  written: number;
}

export class OutboxEpisodes {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly totals = { delivered: 0, dropped: 0, superseded: 0, written: 0 };
  #queueing: Episode | undefined;
  #dropping: { since: number; dropped: number } | undefined;

  constructor(log: Logger, now: () => number) {
    this.#log = log;
    this.#now = now;
  }

  get dropping(): boolean {
    return this.#dropping !== undefined;
  }

  /** An earlier run left a queue: its outage goes on until that is delivered. */
  resumed(): void {
    this.#queueing ??= this.#episode();
  }

  written(n: number, dir: string, connected: boolean): void {
    this.totals.written += n;
    if (!this.#queueing) {
      this.#queueing = this.#episode();
      this.#log.info({ dir, connected }, 'broker not acknowledging: queueing readings on disk');
    }
    this.#queueing.written += n;
  }

  settled(how: Outcome): void {
    this.totals[how]++;
    if (this.#queueing) this.#queueing[how]++;
    if (how === 'dropped' && this.#dropping) this.#dropping.dropped++;
  }

  startDropping(context: Record<string, unknown>): void {
    if (this.#dropping) return;
    this.#dropping = { since: this.#now(), dropped: 0 };
    this.#log.warn(context, 'outbox full: dropping the oldest queued readings');
  }

  endDropping(): void {
    const d = this.#dropping;
    if (!d) return;
    this.#dropping = undefined;
    this.#log.warn({ dropped: d.dropped, durationMs: this.#now() - d.since, droppedTotal: this.totals.dropped }, 'outbox no longer full: stopped dropping readings');
  }

  /** The queue is empty: whatever was going on is over. */
  emptied(): void {
    this.endDropping();
    const e = this.#queueing;
    if (!e) return;
    this.#queueing = undefined;
    const { delivered, dropped, superseded, written } = e;
    this.#log.info({ durationMs: this.#now() - e.since, written, delivered, dropped, superseded }, 'outbox delivered: queue empty');
  }

  #episode(): Episode {
    return { since: this.#now(), delivered: 0, dropped: 0, superseded: 0, written: 0 };
  }
}
