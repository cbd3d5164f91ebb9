import type { Logger } from '../log.js';
import type { Clock } from '../system/clock.js';
import { errText } from '../system/err-text.js';
import { errnoHint } from '../readings/errno-hint.js';
import type { Device } from '../readings/device.js';
import type { Source } from './source.js';

interface Entry {
  readonly source: Source;
  failing: boolean;
  devices: Device[];
  /** Whether its listing is past MANY_DEVICES (warned once, until it is back under). */
  crowded: boolean;
}

/**
 * More devices than one source sensibly serves: the kernel's w1 search stops at 64 slaves
 * per master by default (w1.c, max_slave_count), and an owserver with a DS2482-800's eight
 * buses serves a few hundred at most. Past this a source is more likely broken or forged, and every
 * device polled costs bus time, memory and a Home Assistant entity.
 */
export const MANY_DEVICES = 500;

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
    this.#entries = sources.map((source) => ({ source, failing: false, devices: [], crowded: false }));
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
        this.#count(entry);
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

  #count(entry: Entry): void {
    const crowded = entry.devices.length > MANY_DEVICES;
    if (crowded && !entry.crowded) {
      this.#log.warn(
        { source: entry.source.name, devices: entry.devices.length, limit: MANY_DEVICES },
        `source lists ${entry.devices.length} devices, more than ${MANY_DEVICES}: a forged or broken source? Each one is polled and kept in memory (unmapped: ignore polls only those in sensors.yaml)`,
      );
    }
    entry.crowded = crowded;
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
