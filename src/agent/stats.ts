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
  /**
   * The keys of the sensors polled: once each has been read (the first full cycle), the
   * stats go out at once, so a subscriber sees them seconds after start, not a
   * stats_interval later. Without it, only the interval publishes.
   */
  readonly planned?: () => readonly string[];
}

export class StatsReporter {
  readonly #o: StatsReporterOptions;
  readonly #now: () => number;
  readonly readings: ReadingCounts = { ok: 0, failed: 0 };
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Sensors not yet read before the first publish; undefined before the first reading and after the first publish. */
  #unread: Set<string> | undefined;
  #published = false;
  /** mqtt.stats_interval in force: 0 is off, the first cycle's message too. */
  #intervalMs = 0;

  constructor(options: StatsReporterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Count one reading (the agent's 'reading' event) of the sensor `key`. */
  count(ok: boolean, key?: string): void {
    if (ok) this.readings.ok++;
    else this.readings.failed++;
    if (this.#published || key === undefined || !this.#o.planned) return;
    this.#unread ??= new Set(this.#o.planned());
    this.#unread.delete(key);
    // A sensor that left the plan before its first read would hold this back: the interval still publishes.
    if (this.#unread.size === 0 && this.#intervalMs > 0) {
      this.#published = true;
      this.#unread = undefined;
      // After the reading's own turn: the bus records its cycle time once its last read is done.
      setImmediate(() => this.publishNow());
    }
  }

  start(): void {
    this.#startedAt = this.#now();
    this.reschedule(this.#o.intervalMs);
  }

  /** A new mqtt.stats_interval (live reload); 0 stops publishing. */
  reschedule(intervalMs: number): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#intervalMs = intervalMs;
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => this.publishNow(), intervalMs);
    this.#timer.unref();
  }

  publishNow(): void {
    this.#published = true;
    this.#unread = undefined;
    // A stats message lost to an outage is replaced by the next one: never worth a warning.
    this.#o.publish(this.#o.topic(), statsPayload(this.#o.source, this.readings, this.#startedAt, this.#now())).catch(() => undefined);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
