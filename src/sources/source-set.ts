import type { Logger } from '../log.js';
import type { Clock } from '../sampling/clock.js';
import { errText } from '../system/err-text.js';
import { errnoHint } from './fs-errors.js';
import type { Device, Source } from './source.js';

interface Entry {
  readonly source: Source;
  failing: boolean;
  devices: Device[];
}

/**
 * The configured sources and what each listed last. A source that cannot list (owserver
 * restarting, bus master gone) keeps its last devices: their reads fail and recover, each
 * logged once, instead of vanishing. Its outage is logged when it starts and when it ends.
 */
export class SourceSet {
  readonly #entries: Entry[];
  readonly #log: Logger;
  readonly #clock: Clock;
  /** Sources whose listing fails: since when and how often, for the line that says they are back. */
  readonly #failures = new Map<Source, { since: number; count: number }>();

  constructor(sources: readonly Source[], log: Logger, clock: Clock) {
    this.#entries = sources.map((source) => ({ source, failing: false, devices: [] }));
    this.#log = log;
    this.#clock = clock;
  }

  /** List every source, one after another; a failing one answers with its last devices. */
  async list(): Promise<{ source: Source; devices: Device[] }[]> {
    const found: { source: Source; devices: Device[] }[] = [];
    for (const entry of this.#entries) {
      try {
        entry.devices = await entry.source.list();
        this.#back(entry);
      } catch (err) {
        this.#failed(entry, err);
      }
      found.push({ source: entry.source, devices: entry.devices });
    }
    return found;
  }

  /** Whether `source`'s last listing failed (its sensors' read errors are then not news of their own). */
  failing(source: Source): boolean {
    return this.#entries.some((e) => e.source === source && e.failing);
  }

  async close(): Promise<void> {
    await Promise.all(this.#entries.map((e) => e.source.close()));
  }

  #back(entry: Entry): void {
    const outage = this.#failures.get(entry.source);
    if (entry.failing) this.#log.info({ source: entry.source.name, failures: outage?.count, durationMs: this.#clock.now() - (outage?.since ?? 0) }, 'source is back');
    this.#failures.delete(entry.source);
    entry.failing = false;
  }

  #failed(entry: Entry, err: unknown): void {
    const hint = errnoHint(String((err as { code?: unknown }).code));
    if (!entry.failing) this.#log.warn({ source: entry.source.name, err: errText(err), ...(hint ? { hint } : {}) }, 'cannot list devices of source (bus master gone?)');
    entry.failing = true;
    const outage = this.#failures.get(entry.source) ?? { since: this.#clock.now(), count: 0 };
    outage.count++;
    this.#failures.set(entry.source, outage);
  }
}
