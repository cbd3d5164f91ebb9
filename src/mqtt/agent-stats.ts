/**
 * The agent's own counters on `<base_topic>/w1mqtt/<client_id>/stats` (retained
 * JSON, every mqtt.stats_interval), next to its status topic: what zigbee2mqtt's
 * `bridge/info` and mosquitto's $SYS are for a broker, for the sensor side.
 */

export interface BusStat {
  readonly bus: string;
  readonly sensors: number;
  readonly lastCycleMs: number | undefined;
}

/** What holds readings that are not yet with the broker: the outbox. */
export interface QueueStat {
  /** Readings waiting to be delivered. */
  readonly depth: number;
  /** Readings given up on: dropped beyond the outbox limits. */
  readonly dropped: number;
  /** Refused by the broker (an MQTT 5 failure reason code such as 0x87, not authorized): not sent again. */
  readonly rejected: number;
}

export interface AgentStatsSource {
  sensors(): number;
  busStats(): readonly BusStat[];
  connected(): boolean;
  published(): number;
  queue(): QueueStat;
}

export interface ReadingCounts {
  ok: number;
  failed: number;
}

/** Pure: the JSON document. `last_cycle_ms` is the slowest bus's last pass (the one that limits the interval). */
export function statsPayload(source: AgentStatsSource, readings: Readonly<ReadingCounts>, startedAt: number, now: number): string {
  const buses = source.busStats();
  const cycles = buses.map((b) => b.lastCycleMs).filter((ms) => ms !== undefined);
  return JSON.stringify({
    time: new Date(now).toISOString(),
    uptime_s: Math.floor((now - startedAt) / 1000),
    sensors: source.sensors(),
    readings: { ok: readings.ok, failed: readings.failed },
    last_cycle_ms: cycles.length > 0 ? Math.max(...cycles) : null,
    buses: buses.map((b) => ({ bus: b.bus, sensors: b.sensors, last_cycle_ms: b.lastCycleMs ?? null })),
    mqtt: { connected: source.connected(), published: source.published() },
    queue: source.queue(),
  });
}

export interface StatsReporterOptions {
  readonly source: AgentStatsSource;
  /** Read at each publish: a reload may change the client id or base topic. */
  readonly topic: () => string;
  readonly intervalMs: number;
  readonly publish: (topic: string, payload: string) => Promise<void>;
  readonly now?: () => number;
}

export class StatsReporter {
  readonly #o: StatsReporterOptions;
  readonly #now: () => number;
  readonly readings: ReadingCounts = { ok: 0, failed: 0 };
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StatsReporterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Count one reading (the agent's 'reading' event). */
  count(ok: boolean): void {
    if (ok) this.readings.ok++;
    else this.readings.failed++;
  }

  start(): void {
    this.#startedAt = this.#now();
    this.reschedule(this.#o.intervalMs);
  }

  /** A new mqtt.stats_interval (live reload); 0 stops publishing. */
  reschedule(intervalMs: number): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => this.publishNow(), intervalMs);
    this.#timer.unref();
  }

  publishNow(): void {
    // A stats message lost to an outage is replaced by the next one: never worth a warning.
    this.#o.publish(this.#o.topic(), statsPayload(this.#o.source, this.readings, this.#startedAt, this.#now())).catch(() => undefined);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
