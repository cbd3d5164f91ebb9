import type { Logger } from '../log.js';
import type { ReadErrorCode } from '../readings/read-result.js';

/**
 * Per-sensor availability, for `<topic>/availability` (`online` / `offline`, what Home
 * Assistant's MQTT availability expects by default). A sensor is `online` from its first
 * good reading, `offline` after `threshold` failed reads in a row (whatever the fault)
 * or when it vanishes from its bus, and `online` again with the next good reading.
 * Each change is logged once; the faults themselves are FaultTracker's.
 */

export type Availability = 'online' | 'offline';

interface State {
  online: boolean | undefined;
  /** Failed reads in a row. */
  failures: number;
  /** When the current run of failures began; once offline, when it went offline. */
  since: number;
}

export class SensorAvailability {
  readonly #log: Logger;
  #threshold: number;
  readonly #states = new Map<string, State>();

  /** `threshold` 0 turns availability off: every method then returns undefined. */
  constructor(log: Logger, threshold: number) {
    this.#log = log;
    this.#threshold = threshold;
  }

  get enabled(): boolean {
    return this.#threshold > 0;
  }

  /**
   * `unavailable_after` changed by a live reload. Turned off or on, what was known is
   * dropped: each sensor says `online` again at its next good reading.
   */
  setThreshold(threshold: number): void {
    if ((threshold > 0) !== this.enabled) this.#states.clear();
    this.#threshold = threshold;
  }

  /** What the sensor last said (undefined: nothing yet, or off): to say it again on a new topic. */
  state(sensor: string): Availability | undefined {
    if (!this.enabled) return undefined;
    const online = this.#states.get(sensor)?.online;
    return online === undefined ? undefined : online ? 'online' : 'offline';
  }

  /** No longer polled and its topic retired: forget it without a word. */
  forget(sensor: string): void {
    this.#states.delete(sensor);
  }

  /** A good reading: `online` when that is news. */
  success(sensor: string, now: number, context: Record<string, unknown> = {}): Availability | undefined {
    if (!this.enabled) return undefined;
    const s = this.#state(sensor, now);
    const was = s.online;
    const failures = s.failures;
    s.failures = 0;
    s.online = true;
    if (was === true) return undefined;
    if (was === false) this.#log.info({ sensor, ...context, failures, offlineMs: now - s.since }, 'sensor back online');
    s.since = now;
    return 'online';
  }

  /** A failed read: `offline` when this one reaches the threshold. */
  failure(sensor: string, code: ReadErrorCode, now: number, context: Record<string, unknown> = {}): Availability | undefined {
    if (!this.enabled) return undefined;
    const s = this.#state(sensor, now);
    if (s.failures === 0) s.since = now;
    s.failures++;
    if (s.online === false || s.failures < this.#threshold) return undefined;
    s.online = false;
    this.#log.warn({ sensor, ...context, code, failures: s.failures, failingMs: now - s.since }, `sensor marked offline after ${s.failures} failed reads in a row`);
    s.since = now;
    return 'offline';
  }

  /** No longer on any bus: `offline` unless it already was. */
  vanished(sensor: string): Availability | undefined {
    if (!this.enabled) return undefined;
    const s = this.#states.get(sensor);
    this.#states.delete(sensor);
    return s?.online === false ? undefined : 'offline';
  }

  #state(sensor: string, now: number): State {
    let s = this.#states.get(sensor);
    if (!s) this.#states.set(sensor, (s = { online: undefined, failures: 0, since: now }));
    return s;
  }
}
