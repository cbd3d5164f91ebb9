import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { ConfigDiff } from '../config/diff.js';
import type { Config } from '../config/schema.js';
import { SensorAvailability } from '../health/availability.js';
import { FaultTracker } from '../health/fault-tracker.js';
import type { Logger } from '../log.js';
import type { Route } from '../mqtt/route.js';
import { Outbox, type OutboxStats } from '../outbox/outbox.js';
import type { Device } from '../readings/device.js';
import type { ReadResult } from '../readings/read-result.js';
import { calibrated } from '../readings/reading.js';
import { InFlightReads, type InFlightRead } from '../sampling/in-flight.js';
import { Scheduler, type ScheduledSensor } from '../sampling/scheduler.js';
import { createSource, detectSources } from '../sources/registry.js';
import { SourceSet } from '../sources/source-set.js';
import type { Clock } from '../system/clock.js';
import { errText } from '../system/err-text.js';
import { locateStateDir } from '../system/state-dir.js';
import { packageVersion } from '../version.js';
import { Connection } from './connection.js';
import { DiscoveryCycle } from './discovery-cycle.js';
import type { AgentEvents } from './events.js';
import { startExtras, type Extras } from './extras.js';
import { Publication } from './publication.js';
import { applyReload } from './reload.js';

export interface AgentOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
}

/**
 * Composition root: config → sources → scheduler → readings → outbox → publisher → broker,
 * and the readings to the page, stats and discovery through `events`. The constructor
 * only assigns; start() does the I/O; stop() is idempotent and stops parts in reverse
 * start order.
 */
export class Agent {
  readonly #opts: AgentOptions;
  readonly #log: Logger;
  readonly #faults: FaultTracker;
  readonly #availability: SensorAvailability;
  readonly #scheduler: Scheduler;
  readonly #publication: Publication;
  readonly #discovery: DiscoveryCycle;
  #config: Config;
  #connection: Connection | undefined;
  #outbox: Outbox | undefined;
  #sources: SourceSet;
  #stopping: Promise<void> | undefined;
  #extras: Extras | undefined;
  readonly #inFlight = new InFlightReads();
  #reloadQueue: Promise<unknown> = Promise.resolve();
  readonly events = new EventEmitter<AgentEvents>();

  constructor(options: AgentOptions) {
    this.#opts = options;
    this.#config = options.config;
    this.#log = options.log;
    const sensorsLog = options.log.child({ module: 'sensors' });
    this.#faults = new FaultTracker(sensorsLog);
    this.#sources = new SourceSet([], options.log, options.clock);
    this.#availability = new SensorAvailability(sensorsLog, options.config.unavailable_after);
    this.#scheduler = new Scheduler({
      clock: options.clock,
      log: options.log.child({ module: 'scheduler' }),
      bulk: options.config.bulk_read,
      onResult: (sensor, result, at) => this.#onResult(sensor, result, at),
      inFlight: this.#inFlight,
    });
    this.#publication = new Publication({ log: options.log, config: () => this.#config, outbox: () => this.#outbox });
    this.#discovery = new DiscoveryCycle({
      log: options.log,
      clock: options.clock,
      config: () => this.#config,
      sources: () => this.#sources,
      faults: this.#faults,
      availability: this.#availability,
      publication: this.#publication,
      scheduler: this.#scheduler,
      events: this.events,
    });
  }

  async start(): Promise<void> {
    const config = this.#config;
    const state = await locateStateDir({ configured: config.state_dir });
    this.#log.info({ dir: state.dir, from: state.source }, 'state directory');
    this.#connection = new Connection(this.#log, state.dir);
    const publisher = await this.#connection.open(config);
    this.#outbox = new Outbox({
      link: publisher,
      dir: join(state.dir, 'outbox'),
      maxMessages: config.outbox.max_messages,
      maxBytes: config.outbox.max_bytes,
      log: this.#log.child({ module: 'outbox' }),
    });
    // Before connecting, so readings an earlier run could not deliver go out first.
    this.#outbox.start();
    await publisher.start();
    this.#extras = startExtras({
      events: this.events,
      publisher: () => this.#connection?.publisher,
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
    this.#discovery.every(DISCOVERY_MS);
  }

  /** SIGHUP (`systemctl reload w1mqtt`): the bundled broker re-reads its password and ACL files too. */
  reloadBrokerFiles(): void {
    this.#connection?.broker?.reload();
  }

  /** List every source again and re-plan: new devices start polling, vanished ones stop. */
  discover(): Promise<void> {
    return this.#discovery.run();
  }

  /**
   * Live reload (reload.ts), one at a time: a reload that arrives while another runs
   * is applied after it. Rejects, still running the previous config, when the new
   * connection cannot be made.
   */
  reload(next: Config): Promise<ConfigDiff> {
    const run = this.#reloadQueue.then(() => this.#reload(next));
    this.#reloadQueue = run.catch(() => undefined);
    return run;
  }

  #reload(next: Config): Promise<ConfigDiff> {
    return applyReload(
      {
        log: this.#log,
        config: this.#config,
        stopping: this.#stopping !== undefined,
        connection: this.#connection,
        outbox: this.#outbox,
        extras: this.#extras,
        publication: this.#publication,
        availability: this.#availability,
        discovery: this.#discovery,
        events: this.events,
        adopt: (config) => (this.#config = config),
        replaceSources: async (config) => {
          const old = this.#sources;
          this.#sources = new SourceSet((config.sources ?? (await detectSources())).map(createSource), this.#log, this.#opts.clock);
          return old;
        },
      },
      next,
    );
  }

  /** Handled at once, unless a fault first asks for a look at the buses. */
  #onResult(scheduled: ScheduledSensor, result: ReadResult, at: number): void | Promise<void> {
    if (!result.ok && (result.error.code === 'not_present' || result.error.code === 'io_error')) {
      // A device (or its whole bus) may be gone: look now rather than at the next
      // discovery tick, so one line says what vanished instead of a fault per sensor.
      if (this.#opts.clock.now() - this.#discovery.last > REDISCOVER_AFTER_FAULT_MS) return this.discover().then(() => this.#handle(scheduled, result, at));
    }
    this.#handle(scheduled, result, at);
  }

  #handle(scheduled: ScheduledSensor, result: ReadResult, at: number): void {
    // The plan in force now: a reload may have moved the sensor to another topic or source meanwhile.
    const route = this.#discovery.route(scheduled.key);
    const polled = this.#discovery.scheduled(scheduled.key);
    if (!route || !polled) return; // re-planned away while the read was in flight
    const context = this.#logContext(route);
    if (!result.ok) {
      const sourceDown = this.#sources.failing(polled.source);
      this.#faults.failure(route.displayId, result.error, at, context, !sourceDown);
      const state = this.#availability.failure(route.key, result.error.code, at, context);
      this.events.emit('failure', result.error, route, at);
      this.#publication.availability(route, state);
      return;
    }
    this.#faults.success(route.displayId, at, context);
    const state = this.#availability.success(route.key, at, context);
    const reading = calibrated(route.key, result.milli, route.offset, route.measurement.unit, at);
    this.events.emit('reading', reading, route);
    this.#publication.availability(route, state);
    this.#publication.reading(route, reading);
  }

  /**
   * The fields both trackers put in their log lines, which are only written when something
   * changes: built once per route rather than for every reading.
   */
  #logContext(route: Route): Record<string, unknown> {
    let context = this.#logContexts.get(route);
    if (!context) {
      context = { sensor: route.displayId, topic: route.topic, bus: route.device.bus };
      this.#logContexts.set(route, context);
    }
    return context;
  }

  readonly #logContexts = new WeakMap<Route, Record<string, unknown>>();

  get faults(): FaultTracker {
    return this.#faults;
  }

  get config(): Config {
    return this.#config;
  }

  /** True while the MQTT client has a live connection. */
  get connected(): boolean {
    return this.#connection?.publisher?.connected ?? false;
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

  /** Every device the sources listed last time, polled or not (the page's unmapped list). */
  devices(): readonly { source: string; device: Device }[] {
    return this.#discovery.devices();
  }

  /** How each polled sensor is published, for scan-like views and tests. */
  sensors(): Route[] {
    return this.#discovery.routes();
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#discovery.stop();
    this.#extras?.stop();
    const steps: [string, () => Promise<void>][] = [
      ['scheduler', () => this.#scheduler.stop()],
      ['outbox', async () => this.#outbox?.stop()],
      ['mqtt', async () => this.#connection?.publisher?.stop()],
      ['broker', async () => this.#connection?.broker?.stop()],
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
