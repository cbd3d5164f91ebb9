import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { startExtras, type Extras } from './extras.js';
import { diffConfig, hasChanges, needsNewConnection, type ConfigDiff } from '../config/diff.js';
import type { Config } from '../config/schema.js';
import { readingPayload } from '../mqtt/payload.js';
import { PresenceState } from '../health/presence.js';
import type { Logger } from '../log.js';
import type { BundledBroker } from '../broker/supervisor.js';
import { Outbox, type OutboxStats } from '../outbox/outbox.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { availabilityTopic, statusTopic } from '../mqtt/topics.js';
import { agentMqtt, clearRetained, replaceTransport } from './transport.js';
import { SensorAvailability, type Availability } from '../health/availability.js';
import type { Clock } from '../system/clock.js';
import { FaultTracker } from '../health/fault-tracker.js';
import { InFlightReads, type InFlightRead } from '../sampling/in-flight.js';
import { planSensors, type PublishTarget, type PlannedSensor } from './plan.js';
import { replan } from './replan.js';
import { retiredTopics } from './retire.js';
import { Scheduler, type ScheduledSensor } from '../sampling/scheduler.js';
import { createSource, detectSources } from '../sources/registry.js';
import { SourceSet } from '../sources/source-set.js';
import type { ReadResult } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import { errText } from '../system/err-text.js';
import { locateStateDir } from '../system/state-dir.js';
import { packageVersion } from '../version.js';

/**
 * What the agent tells other parts (web page, discovery, stats) without knowing them.
 * Listeners run synchronously inside the reading path: keep them cheap, never throw.
 */
export interface AgentEvents {
  /** Every read, good or bad, after validity checks and retries. */
  reading: [sensor: PlannedSensor, result: ReadResult, at: number];
  /** The set of polled sensors changed (start, discovery, reload). */
  plan: [sensors: readonly PlannedSensor[]];
  /** A live reload of sensors.yaml was applied (after its 'plan', if the sensors changed). */
  reload: [config: Config];
}

export interface AgentOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  /** How often sources are listed again to find new or vanished devices. @default 30 s */
  readonly discoveryMs?: number;
}

/**
 * Composition root: config → sources → scheduler → publisher → broker.
 * The constructor only assigns; start() does the I/O; stop() is idempotent and
 * stops parts in reverse start order.
 */
export class Agent {
  readonly #opts: AgentOptions;
  readonly #log: Logger;
  readonly #faults: FaultTracker;
  readonly #availability: SensorAvailability;
  readonly #scheduler: Scheduler;
  #config: Config;
  #stateDir: string | undefined;
  #broker: BundledBroker | undefined;
  #publisher: MqttPublisher | undefined;
  #outbox: Outbox | undefined;
  #sources: SourceSet;
  #plan = new Map<string, PlannedSensor>();
  #found: { source: string; device: Device }[] = [];
  #missingLogged = new Set<string>();
  #discoveryTimer: NodeJS.Timeout | undefined;
  #discovering: Promise<void> | undefined;
  #lastDiscovery = 0;
  #stopping: Promise<void> | undefined;
  #extras: Extras | undefined;
  readonly #inFlight = new InFlightReads();
  /** Readings taken while the connection is being replaced; published once it is back. */
  #held: { key: string; milli: number; at: number }[] | undefined;
  #reloadQueue: Promise<unknown> = Promise.resolve();
  readonly #presence = new PresenceState();
  readonly events = new EventEmitter<AgentEvents>();

  constructor(options: AgentOptions) {
    this.#opts = options;
    this.#config = options.config;
    this.#log = options.log;
    this.#faults = new FaultTracker(options.log.child({ module: 'sensors' }));
    this.#sources = new SourceSet([], options.log, options.clock);
    this.#availability = new SensorAvailability(options.log.child({ module: 'sensors' }), options.config.unavailable_after);
    this.#scheduler = new Scheduler({
      clock: options.clock,
      log: options.log.child({ module: 'scheduler' }),
      bulk: options.config.bulk_read,
      onResult: (sensor, result, at) => this.#onResult(sensor, result, at),
      inFlight: this.#inFlight,
    });
  }

  async start(): Promise<void> {
    const config = this.#config;
    const state = await locateStateDir({ configured: config.state_dir });
    this.#stateDir = state.dir;
    this.#log.info({ dir: state.dir, from: state.source }, 'state directory');
    let url = config.mqtt.url;
    if (url === undefined) {
      await this.#loadBroker();
      this.#broker = this.#newBroker(config);
      // The client connects (and READY=1 goes out) only once mosquitto accepts.
      await this.#broker.start();
      url = this.#broker.url;
    }
    this.#publisher = new MqttPublisher({ url, mqtt: agentMqtt(config, this.#broker), statusTopic: statusTopic(config), log: this.#log.child({ module: 'mqtt' }) });
    this.#outbox = new Outbox({
      link: this.#publisher,
      dir: join(state.dir, 'outbox'),
      maxMessages: config.outbox.max_messages,
      maxBytes: config.outbox.max_bytes,
      log: this.#log.child({ module: 'outbox' }),
    });
    // Before connecting, so readings an earlier run could not deliver go out first.
    this.#outbox.start();
    await this.#publisher.start();
    this.#extras = startExtras({
      events: this.events,
      publisher: () => this.#publisher,
      config: () => this.#config,
      sensors: () => this.sensors(),
      busStats: () => this.#scheduler.busStats(),
      queue: () => {
        const s = this.#outbox?.stats();
        return { depth: s?.queued ?? 0, dropped: s?.dropped ?? 0, rejected: s?.rejected ?? 0 };
      },
      log: this.#log,
      version: packageVersion(),
    });

    const sourceConfigs = config.sources ?? (await detectSources());
    if (sourceConfigs.length === 0) {
      this.#log.warn('no 1-Wire source found: no /sys/bus/w1/devices (is the w1-gpio overlay enabled?), no OWFS mount at /mnt/1wire or /run/owfs, and no owserver on 127.0.0.1:4304');
    }
    this.#sources = new SourceSet(sourceConfigs.map(createSource), this.#log, this.#opts.clock);
    await this.discover();
    this.#scheduler.start();
    const every = this.#opts.discoveryMs ?? DISCOVERY_MS;
    this.#discoveryTimer = setInterval(() => void this.discover(), every);
    this.#discoveryTimer.unref();
  }

  /** Loaded only when used: an agent with an external broker never needs the supervisor's code. */
  #Broker: typeof BundledBroker | undefined;
  async #loadBroker(): Promise<void> {
    this.#Broker ??= (await import('../broker/supervisor.js')).BundledBroker;
  }

  /** The bundled broker for `config`, in `<state_dir>/broker` (after #loadBroker). */
  #newBroker(config: Config): BundledBroker {
    if (!this.#Broker || this.#stateDir === undefined) throw new Error('the bundled broker module is not loaded');
    return new this.#Broker({ settings: config.broker, dir: join(this.#stateDir, 'broker'), log: this.#log.child({ module: 'broker' }) });
  }

  /** SIGHUP (`systemctl reload w1mqtt`): the bundled broker re-reads its password and ACL files too. */
  reloadBrokerFiles(): void {
    this.#broker?.reload();
  }

  /** List every source again and re-plan: new devices start polling, vanished ones stop. */
  discover(): Promise<void> {
    this.#discovering ??= this.#discover().finally(() => {
      this.#discovering = undefined;
      this.#lastDiscovery = this.#opts.clock.now();
    });
    return this.#discovering;
  }

  /**
   * Live reload: apply `next` in place. Known sensors keep their schedule, so the
   * others' readings go on; only a changed connection is rebuilt (see config/diff.ts).
   * Rejects, still running the previous config, when the new connection cannot be made.
   */
  reload(next: Config): Promise<ConfigDiff> {
    const run = this.#reloadQueue.then(() => this.#reload(next));
    this.#reloadQueue = run.catch(() => undefined);
    return run;
  }

  async #reload(next: Config): Promise<ConfigDiff> {
    const before = this.#config;
    const diff = diffConfig(before, next);
    if (!hasChanges(diff) || this.#stopping || !this.#publisher) return diff;
    const retired = this.#retired(before, next);
    const reconnect = needsNewConnection(diff);
    // The bundled broker re-reads users, ACLs and limits, or restarts on new listeners;
    // the agent's client stays on the broker's socket and reconnects by itself.
    if (next.mqtt.url === undefined && before.mqtt.url === undefined && this.#broker) await this.#broker.apply(next.broker);
    if (reconnect) {
      if (next.mqtt.url === undefined) await this.#loadBroker();
      this.#held = [];
      const current = { broker: this.#broker, publisher: this.#publisher };
      const newBroker = (c: Config): BundledBroker => this.#newBroker(c);
      const { transport, error } = await replaceTransport(current, before, next, diff.broker, retired, this.#log, newBroker).catch((err: unknown) => {
        this.#publisher = undefined; // not even the previous connection could be made again
        this.#release();
        throw err;
      });
      this.#broker = transport.broker;
      this.#publisher = transport.publisher;
      this.#outbox?.setLink(transport.publisher);
      this.#extras?.reattach();
      if (error) {
        this.#release();
        throw error;
      }
    }
    this.#config = next;
    this.#availability.setThreshold(next.unavailable_after);
    if (diff.settings.includes('log_level')) this.#log.level = next.log_level ?? process.env['LOG_LEVEL'] ?? 'info';
    const oldSources = diff.sources ? this.#sources : undefined;
    if (diff.sources) this.#sources = new SourceSet((next.sources ?? (await detectSources())).map(createSource), this.#log, this.#opts.clock);
    // A discovery already running may have listed the old sources: wait for it, then look again.
    await this.#discovering;
    await this.discover();
    this.#release();
    await oldSources?.close();
    for (const topic of retired) this.#presence.forget(topic);
    if (!reconnect) await clearRetained(this.#publisher, retired, this.#log);
    this.events.emit('reload', next);
    return diff;
  }

  /**
   * The topics a reload leaves behind, to clear. A reading's only when readings are
   * retained; an availability topic's always (it is always retained), and every one
   * when `unavailable_after` turns availability off.
   */
  #retired(before: Config, next: Config): string[] {
    const sensors = this.sensors();
    const readings = retiredTopics(sensors, next);
    const availability = !this.#availability.enabled ? [] : next.unavailable_after > 0 ? readings : sensors.map((s) => s.topic);
    return [...(before.mqtt.retain ? readings : []), ...availability.map(availabilityTopic)];
  }

  /** Publish what was held during a connection change, under the plan now in force. */
  #release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const h of held) {
      const sensor = this.#plan.get(h.key);
      if (sensor) this.#publishReading(sensor, h.milli, h.at);
    }
  }

  async #discover(): Promise<void> {
    const found = await this.#sources.list();
    this.#found = found.flatMap((f) => f.devices.map((device) => ({ source: f.source.name, device })));
    const plan = planSensors(this.#config, found);
    const next = new Map(plan.sensors.map((s) => [s.key, s]));
    for (const s of plan.sensors) {
      if (!this.#plan.has(s.key)) this.#log.info({ sensor: s.displayId, chip: s.device.chip, bus: s.device.bus, topic: s.topic, intervalMs: s.intervalMs }, 'sensor found');
    }
    const present = new Set(found.flatMap((f) => f.devices.map((d) => d.id.sysfs)));
    // Per-sensor state follows each sensor to its new topic or id (sampling/replan.ts).
    const changes = replan(this.#plan, plan.sensors, present);
    for (const s of changes.dropped) {
      this.#log.info({ sensor: s.displayId, topic: s.topic }, 'sensor no longer polled (sensors.yaml)');
      this.#faults.forget(s.displayId);
      this.#availability.forget(s.key);
    }
    const vanished = new Set<string>();
    for (const s of changes.vanished) {
      const id = s.device.id.sysfs;
      if (s.measurement.quantity === 'presence') this.#publishPresence(s, false, this.#opts.clock.now()); // an iButton taken away
      else if (!vanished.has(id)) this.#log.warn({ sensor: s.displayId.split('/')[0], bus: s.device.bus }, 'sensor vanished from its bus');
      vanished.add(id);
      this.#faults.forget(s.displayId);
      // A presence measurement says `offline` on its own topic; the others on their availability topic.
      if (s.measurement.quantity !== 'presence') this.#publishAvailability(s, this.#availability.vanished(s.key));
    }
    for (const { from, to } of changes.renamed) this.#faults.rename(from, to);
    for (const { sensor } of changes.moved) {
      if (sensor.measurement.quantity !== 'presence') this.#publishAvailability(sensor, this.#availability.state(sensor.key));
    }
    for (const id of plan.missing) {
      if (!this.#missingLogged.has(id)) this.#log.warn({ sensor: id }, 'sensor listed in sensors.yaml is not on any bus');
    }
    for (const absent of plan.absent) this.#publishPresence(absent, false, this.#opts.clock.now());
    this.#missingLogged = new Set(plan.missing);
    const changed = next.size !== this.#plan.size || plan.sensors.some((s) => !sameSensor(this.#plan.get(s.key), s));
    this.#plan = next;
    this.#scheduler.setSensors(plan.sensors);
    if (changed) this.events.emit('plan', plan.sensors);
  }

  get faults(): FaultTracker {
    return this.#faults;
  }

  get config(): Config {
    return this.#config;
  }

  /** True while the MQTT client has a live connection. */
  get connected(): boolean {
    return this.#publisher?.connected ?? false;
  }

  busStats(): ReturnType<Scheduler['busStats']> {
    return this.#scheduler.busStats();
  }

  /** Store-and-forward counters: queued, delivered, dropped… (undefined before start()). */
  outboxStats(): OutboxStats | undefined {
    return this.#outbox?.stats();
  }

  /** The read that has been in flight longest (even past its timeout): the watchdog's liveness signal. */
  oldestRead(): InFlightRead | undefined {
    return this.#inFlight.oldest();
  }

  async #onResult(scheduled: ScheduledSensor, result: ReadResult, at: number): Promise<void> {
    if (!result.ok && (result.error.code === 'not_present' || result.error.code === 'io_error')) {
      // A device (or its whole bus) may be gone: look now rather than at the next
      // discovery tick, so one line says what vanished instead of a fault per sensor.
      if (this.#opts.clock.now() - this.#lastDiscovery > REDISCOVER_AFTER_FAULT_MS) await this.discover();
    }
    const sensor = this.#plan.get(scheduled.key);
    if (!sensor) return; // re-planned away while the read was in flight
    // One context for both trackers' log lines (only written when something changes).
    const context = { sensor: sensor.displayId, topic: sensor.topic, bus: sensor.device.bus };
    this.events.emit('reading', sensor, result, at);
    if (!result.ok) {
      const sourceDown = this.#sources.failing(sensor.source);
      this.#faults.failure(sensor.displayId, result.error, at, context, !sourceDown);
      this.#publishAvailability(sensor, this.#availability.failure(sensor.key, result.error.code, at, context));
      return;
    }
    this.#faults.success(sensor.displayId, at, context);
    this.#publishAvailability(sensor, this.#availability.success(sensor.key, at, context));
    if (this.#held) this.#held.push({ key: sensor.key, milli: result.milli, at });
    else this.#publishReading(sensor, result.milli, at);
  }

  #publishReading(sensor: PlannedSensor, milli: number, at: number): void {
    if (sensor.measurement.quantity === 'presence') {
      this.#publishPresence(sensor, milli > 0, at);
      return;
    }
    this.#publish(sensor, milli / 1000 + sensor.offset, at);
  }

  /** `online`/`offline`, retained like the readings, only when it changes (devices/presence.ts). */
  #publishPresence(sensor: PublishTarget, online: boolean, at: number): void {
    if (!this.#presence.update(sensor.topic, online)) return;
    this.#log.info({ sensor: sensor.displayId, topic: sensor.topic, state: online ? 'online' : 'offline' }, online ? 'device present' : 'device gone');
    this.#publish(sensor, online ? 1 : 0, at);
  }

  #publish(sensor: PublishTarget, value: number, at: number): void {
    const { mqtt } = this.#config;
    const payload = readingPayload(mqtt, sensor.measurement, { value, time: new Date(at), sensor: sensor.displayId, name: sensor.label });
    // Never waits: the outbox sends while the broker acknowledges and queues (on disk) while it does not.
    // A target with no queue mode of its own (an absent presence) is a state: only the newest matters.
    const latest = (sensor as Partial<PlannedSensor>).queue !== 'all';
    this.#outbox?.enqueue({ topic: sensor.topic, payload, qos: mqtt.qos, retain: mqtt.retain, latest });
    // Looked at first: the object would be built for every reading even with debug off.
    if (this.#log.isLevelEnabled('debug')) this.#log.debug({ sensor: sensor.displayId, topic: sensor.topic, payload }, 'reading');
  }

  /** `<topic>/availability`, retained; only the newest state matters after an outage. */
  #publishAvailability(sensor: PlannedSensor, state: Availability | undefined): void {
    if (state === undefined) return;
    this.#outbox?.enqueue({ topic: availabilityTopic(sensor.topic), payload: state, qos: this.#config.mqtt.qos, retain: true, latest: true });
  }

  /** Every thermometer the sources listed last time, polled or not (the page's unmapped list). */
  devices(): readonly { source: string; device: Device }[] {
    return this.#found;
  }

  /** Sensors currently polled, for scan-like views and tests. */
  sensors(): PlannedSensor[] {
    return [...this.#plan.values()];
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    clearInterval(this.#discoveryTimer);
    this.#extras?.stop();
    const steps: [string, () => Promise<void>][] = [
      ['scheduler', () => this.#scheduler.stop()],
      ['outbox', async () => this.#outbox?.stop()],
      ['mqtt', async () => this.#publisher?.stop()],
      ['broker', async () => this.#broker?.stop()],
      ['sources', () => this.#sources.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        this.#log.error({ part: name, err: errText(err) }, 'error while stopping');
      }
    }
  }
}

/** The kernel searches the bus every 10 s (w1_timeout); listing as often costs one readdir. */
const DISCOVERY_MS = 10_000;
/** At most one extra discovery per this many ms, however many reads fail. */
const REDISCOVER_AFTER_FAULT_MS = 2_000;

function sameSensor(a: PlannedSensor | undefined, b: PlannedSensor): boolean {
  return a !== undefined && a.topic === b.topic && a.intervalMs === b.intervalMs && a.offset === b.offset && a.label === b.label && a.device.bus === b.device.bus && a.source === b.source && a.queue === b.queue;
}
