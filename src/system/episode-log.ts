import type { Logger } from '../log.js';

/**
 * Logs a recurring fault when it starts and when it ends, never once per event:
 * 500 refused connections are one warning, then one line with the count once the
 * flood has been quiet for `quietMs`. Keyed by kind, so different faults stay apart.
 */

export interface EpisodeLogOptions {
  readonly log: Logger;
  /** Quiet time that ends an episode. @default 10 s */
  readonly quietMs?: number;
}

interface Episode {
  readonly msg: string;
  readonly since: number;
  count: number;
  timer: NodeJS.Timeout;
}

export class EpisodeLog {
  readonly #log: Logger;
  readonly #quietMs: number;
  readonly #open = new Map<string, Episode>();

  constructor(options: EpisodeLogOptions) {
    this.#log = options.log;
    this.#quietMs = options.quietMs ?? 10_000;
  }

  /** One occurrence. The first of an episode is logged (warn) with its fields; later ones are counted. */
  report(kind: string, msg: string, fields: Record<string, unknown> = {}): void {
    const open = this.#open.get(kind);
    if (open) {
      open.count++;
      open.timer.refresh();
      return;
    }
    this.#log.warn({ kind, ...fields }, msg);
    const timer = setTimeout(() => this.#end(kind), this.#quietMs);
    timer.unref();
    this.#open.set(kind, { msg, since: Date.now(), count: 1, timer });
  }

  /** End every open episode now (at shutdown), so its count is not lost. */
  flush(): void {
    for (const kind of [...this.#open.keys()]) this.#end(kind);
  }

  #end(kind: string): void {
    const e = this.#open.get(kind);
    if (!e) return;
    clearTimeout(e.timer);
    this.#open.delete(kind);
    this.#log.info({ kind, count: e.count, durationMs: Date.now() - e.since }, `${e.msg}: over (${e.count} in all)`);
  }
}
