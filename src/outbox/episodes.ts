import type { Logger } from '../log.js';

/**
 * The outbox's counters and its recurring conditions, each logged once when it starts
 * and once when it ends, with counts: queueing on disk (from the first write until the
 * queue is empty again: a broker outage, or acknowledgements that lag), dropping (the
 * queue at its limit), and per topic the broker refusing publishes (an MQTT 5 reason
 * code such as 0x87 Not authorized) until one on that topic is accepted again.
 */

export type Outcome = 'delivered' | 'rejected' | 'dropped' | 'superseded';

interface Episode {
  since: number;
  delivered: number;
  rejected: number;
  dropped: number;
  superseded: number;
  written: number;
}

interface Refusal {
  readonly since: number;
  readonly reasonCode: number;
  count: number;
}

export class OutboxEpisodes {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly totals = { delivered: 0, rejected: 0, dropped: 0, superseded: 0, written: 0 };
  #queueing: Episode | undefined;
  #dropping: { since: number; dropped: number } | undefined;
  /** Topics whose publishes the broker refuses (bounded by the number of topics). */
  readonly #refusing = new Map<string, Refusal>();

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

  settled(how: Outcome, topic: string): void {
    this.totals[how]++;
    if (this.#queueing) this.#queueing[how]++;
    if (how === 'dropped' && this.#dropping) this.#dropping.dropped++;
    if (how === 'delivered' && this.#refusing.size > 0) this.#endRefusal(topic, 'broker accepts publishes on this topic again');
  }

  /** The broker answered a publish with a failure reason code: final, never sent again. */
  rejected(topic: string, reasonCode: number, reason: string): void {
    const open = this.#refusing.get(topic);
    if (open) {
      open.count++;
      return;
    }
    this.#refusing.set(topic, { since: this.#now(), reasonCode, count: 1 });
    const code = `0x${reasonCode.toString(16)}`;
    this.#log.warn({ topic, reasonCode: code, reason }, 'broker refused a publish: not sending it again (check the broker ACL and limits)');
  }

  /** At shutdown: what is still refused is said with its count. */
  endRefusals(): void {
    for (const topic of [...this.#refusing.keys()]) this.#endRefusal(topic, 'broker still refusing publishes on this topic at shutdown');
  }

  #endRefusal(topic: string, msg: string): void {
    const r = this.#refusing.get(topic);
    if (!r) return;
    this.#refusing.delete(topic);
    this.#log.info({ topic, rejected: r.count, durationMs: this.#now() - r.since, rejectedTotal: this.totals.rejected }, msg);
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
    const { delivered, rejected, dropped, superseded, written } = e;
    this.#log.info({ durationMs: this.#now() - e.since, written, delivered, rejected, dropped, superseded }, 'outbox delivered: queue empty');
  }

  #episode(): Episode {
    return { since: this.#now(), delivered: 0, rejected: 0, dropped: 0, superseded: 0, written: 0 };
  }
}
