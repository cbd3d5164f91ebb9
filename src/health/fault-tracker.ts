import type { Logger } from '../log.js';
import { describeError, type ReadError, type ReadErrorCode } from '../readings/read-result.js';

interface FaultState {
  code: ReadErrorCode;
  since: number;
  count: number;
  /** Whether the start was logged; a recovery is logged only if it was. */
  logged: boolean;
}

export interface SensorHealth {
  readonly ok: number;
  readonly failed: number;
  readonly fault?: { readonly code: ReadErrorCode; readonly since: number; readonly count: number; readonly message: string };
}

/**
 * Remembers each sensor's current fault so a recurring problem is logged when it
 * starts, when it changes kind and when it clears: never once per poll.
 */
export class FaultTracker {
  readonly #log: Logger;
  readonly #faults = new Map<string, FaultState & { message: string }>();
  readonly #counts = new Map<string, { ok: number; failed: number }>();
  readonly #byCode = new Map<ReadErrorCode, number>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * `log: false` records the fault without a line: used when the whole source is
   * known to be down, which the agent has already said once.
   */
  failure(sensor: string, error: ReadError, now: number, context: Record<string, unknown> = {}, log = true): void {
    this.#count(sensor).failed++;
    this.#byCode.set(error.code, (this.#byCode.get(error.code) ?? 0) + 1);
    const current = this.#faults.get(sensor);
    if (current && current.code === error.code) {
      current.count++;
      return;
    }
    const message = describeError(error);
    this.#faults.set(sensor, { code: error.code, since: now, count: 1, message, logged: log });
    if (log) this.#log.warn({ sensor, ...context, code: error.code, error, previous: current?.code }, `sensor fault: ${message}`);
  }

  success(sensor: string, now: number, context: Record<string, unknown> = {}): void {
    this.#count(sensor).ok++;
    const current = this.#faults.get(sensor);
    if (!current) return;
    this.#faults.delete(sensor);
    if (current.logged) this.#log.info({ sensor, ...context, code: current.code, failures: current.count, durationMs: now - current.since }, 'sensor recovered');
  }

  /** A sensor that is no longer scheduled: forget it without a "recovered" line. */
  forget(sensor: string): void {
    this.#faults.delete(sensor);
  }

  /** The sensor is shown under another id now (sensors.yaml wrote it in the other notation, or mapped it): its fault and counts go with it. */
  rename(from: string, to: string): void {
    for (const map of [this.#faults, this.#counts] as Map<string, unknown>[]) {
      const value = map.get(from);
      map.delete(from);
      if (value !== undefined) map.set(to, value);
    }
  }

  health(sensor: string): SensorHealth {
    const counts = this.#counts.get(sensor) ?? { ok: 0, failed: 0 };
    const fault = this.#faults.get(sensor);
    return fault ? { ...counts, fault: { code: fault.code, since: fault.since, count: fault.count, message: fault.message } } : { ...counts };
  }

  /** Failures by error code since start, for stats and status lines. */
  totals(): Record<string, number> {
    return Object.fromEntries(this.#byCode);
  }

  #count(sensor: string): { ok: number; failed: number } {
    let c = this.#counts.get(sensor);
    if (!c) this.#counts.set(sensor, (c = { ok: 0, failed: 0 }));
    return c;
  }
}
