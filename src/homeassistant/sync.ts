import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { systemClock, type Clock } from '../system/clock.js';
import { sensorMap, type Route } from '../mqtt/route.js';
import { errText } from '../system/err-text.js';
import { packageRoot } from '../system/package-root.js';
import { agentDiscoveryMessages, agentIdentifier, DEFAULT_SUPPORT_URL, deviceOf, discoveryMessages, supportUrlOf, type DiscoveryContext } from './discovery.js';
import type { MessageHandler, PublishOptions } from '../mqtt/publisher.js';
import { statusTopic } from '../mqtt/topics.js';

/**
 * Keeps Home Assistant's view of the agent and its sensors in step: publishes the retained
 * discovery configs on every plan change and again after HA's birth message
 * (`homeassistant/status` = `online`), and removes (empty retained message) an entity no
 * longer published: a sensor taken out of sensors.yaml, a measurement turned off. A sensor
 * only absent from its bus keeps its entity (HA shows the last value; it comes back by itself).
 *
 * To find what an earlier run left on the broker it reads only its own topic tree: each config
 * it publishes has a retained twin at `<base>/w1mqtt/<client_id>/discovery/<config topic>`
 * holding the state topic and the chip. Reading `<prefix>/+/+/config` instead would mean
 * receiving every other integration's configs at each start (thousands on a zigbee2mqtt
 * install). One message per config rather than one list: a list republished at start could
 * overwrite the previous run's before the broker sent it to us (MQTT.js sends publishes queued
 * while offline before our SUBSCRIBE), whereas a twin is only ever replaced by the same topic's.
 * On the broker rather than in the state dir: it lives and dies with the configs it describes
 * (another broker, a wiped broker, a new state dir or machine with the same client id all agree).
 */

/** Lives with the payloads now; callers have imported it from here. */
export { deviceOf } from './discovery.js';

export interface DiscoveryLink {
  publish(topic: string, payload: string, opts: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): void;
}

export interface HomeAssistantDiscoveryOptions {
  readonly link: DiscoveryLink;
  readonly log: Logger;
  readonly config: () => Config;
  readonly version: string;
  /** origin.support_url. @default package.json's homepage or repository, else DEFAULT_SUPPORT_URL */
  readonly supportUrl?: string;
  /** The agent device is "w1mqtt on <host>". @default os.hostname() */
  readonly host?: string;
  /** Times the re-announce after a birth message. @default systemClock */
  readonly clock?: Clock;
  /** Uniform in [0, 1): where in the delay window a re-announce falls. @default Math.random */
  readonly random?: () => number;
}

/** HA's MQTT docs ("Birth and last will messages"): add some random delay before sending discovery, to spread the load. */
export const REANNOUNCE_DELAY_MS = { min: 1_000, max: 5_000 } as const;
/** However many birth messages arrive (HA restarting in a loop, several HA instances), at most one re-announce per gap. */
export const REANNOUNCE_GAP_MS = 5_000;

interface Known {
  /** sysfs id of the chip, to look it up in the plan and in sensors.yaml; undefined for the agent's own entities. */
  readonly rom: string | undefined;
  readonly stateTopic: string;
}

export class HomeAssistantDiscovery {
  readonly #o: HomeAssistantDiscoveryOptions;
  readonly #clock: Clock;
  readonly #stopped = new AbortController();
  /** Discovery topics retained on the broker by this agent (published now, or twins found from before). */
  readonly #known = new Map<string, Known>();
  #desired = new Map<string, { payload: string; known: Known }>();
  #plan: readonly Route[] = [];
  #planned = false;
  #supportUrl = DEFAULT_SUPPORT_URL;
  /** The re-announce: waiting for its delay, or publishing and the gap after it. */
  #round: 'waiting' | 'after' | undefined;
  #again = false;
  #lastRound = Number.NEGATIVE_INFINITY;
  #births = 0;

  constructor(options: HomeAssistantDiscoveryOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  start(): void {
    this.#supportUrl = this.#o.supportUrl ?? packageSupportUrl();
    const { homeassistant } = this.#o.config();
    this.#o.link.subscribe(homeassistant.status_topic, (_topic, payload, retained) => {
      // A retained `online` is HA's state from before we subscribed, not HA starting now: live
      // messages reach existing subscribers with RETAIN 0 (MQTT-3.3.1-9; MQTT 5: MQTT-3.3.1-12).
      if (!retained && payload.toString('utf8').trim() === 'online') this.#birth();
    });
    const twins = `${twinRoot(this.#o.config())}/`;
    this.#o.link.subscribe(`${twins}#`, (topic, payload) => this.#seen(topic.slice(twins.length), payload));
  }

  /** Idempotent: a pending re-announce is dropped. */
  stop(): void {
    this.#stopped.abort();
  }

  /** The polled sensors changed (start, discovery, reload): publish the configs, remove those no longer wanted. */
  update(sensors: readonly Route[]): void {
    this.#plan = sensors;
    const config = this.#o.config();
    const { payload, decimals, qos, client_id } = config.mqtt;
    const ctx: DiscoveryContext = {
      prefix: config.homeassistant.prefix, payload, decimals, qos, statusTopic: statusTopic(config),
      version: this.#o.version, agent: agentIdentifier(client_id), supportUrl: this.#supportUrl,
    };
    const stats = config.mqtt.stats_interval > 0 ? `${ownRoot(config)}/stats` : undefined;
    // The agent first: HA links a sensor's via_device only to a device it already has.
    const desired = new Map<string, { payload: string; known: Known }>();
    for (const m of agentDiscoveryMessages({ clientId: config.mqtt.client_id, host: this.#o.host ?? hostname(), statsTopic: stats }, ctx)) {
      desired.set(m.topic, { payload: m.payload, known: { rom: undefined, stateTopic: m.stateTopic } });
    }
    // One HA device per chip, one entity per measurement (a DS2438 has four routes).
    const byDevice = new Map<string, Route[]>();
    for (const sensor of sensors) byDevice.set(sensor.device.id.sysfs, [...(byDevice.get(sensor.device.id.sysfs) ?? []), sensor]);
    for (const [rom, measured] of byDevice) {
      for (const m of discoveryMessages(deviceOf(measured, config.unavailable_after > 0), ctx)) desired.set(m.topic, { payload: m.payload, known: { rom, stateTopic: m.stateTopic } });
    }
    this.#desired = desired;
    this.#planned = true;
    void this.#publishAll();
    for (const [topic, known] of [...this.#known]) if (!desired.has(topic) && this.#retired(known)) this.#remove(topic);
  }

  #publishAll(): Promise<unknown> {
    const twins = twinRoot(this.#o.config());
    const sent: Promise<void>[] = [];
    for (const [topic, { payload, known }] of this.#desired) {
      this.#known.set(topic, known);
      sent.push(this.#send(topic, payload), this.#send(`${twins}/${topic}`, JSON.stringify({ state_topic: known.stateTopic, ...(known.rom ? { device: known.rom } : {}) })));
    }
    return Promise.allSettled(sent);
  }

  /** HA announced itself: one re-announce after a random delay, however many announcements come. */
  #birth(): void {
    if (this.#stopped.signal.aborted) return;
    if (++this.#births === 1) this.#o.log.info('Home Assistant is online: publishing discovery again');
    if (this.#round === undefined) void this.#reannounce();
    // Publishing, or just done: this birth may have come after HA subscribed to some of it.
    else if (this.#round === 'after') this.#again = true;
  }

  /** Rounds until one is followed by a quiet gap: that ends the burst, logged once with what it covered. */
  async #reannounce(): Promise<void> {
    const signal = this.#stopped.signal;
    let rounds = 0;
    do {
      this.#round = 'waiting';
      const { min, max } = REANNOUNCE_DELAY_MS;
      await this.#clock.sleep(Math.max(min + (this.#o.random ?? Math.random)() * (max - min), this.#lastRound + REANNOUNCE_GAP_MS - this.#clock.now()), signal);
      if (signal.aborted) return;
      this.#round = 'after';
      this.#again = false;
      this.#lastRound = this.#clock.now();
      rounds++;
      await this.#publishAll();
      await this.#clock.sleep(this.#lastRound + REANNOUNCE_GAP_MS - this.#clock.now(), signal);
      if (signal.aborted) return;
    } while (this.#again);
    this.#round = undefined;
    this.#o.log.info({ births: this.#births, rounds, configs: this.#desired.size }, 'Home Assistant discovery published again');
    this.#births = 0;
  }

  /** A twin from this or an earlier run: `configTopic` is the discovery topic it stands for. */
  #seen(configTopic: string, payload: Buffer): void {
    if (payload.length === 0) {
      if (!this.#desired.has(configTopic)) this.#known.delete(configTopic);
      return;
    }
    if (this.#desired.has(configTopic) || this.#known.has(configTopic)) return;
    const known = parseTwin(payload);
    if (!known) return this.#o.log.debug({ topic: configTopic }, 'ignoring an unreadable discovery record');
    this.#known.set(configTopic, known);
    // Before the first plan nothing is wanted yet: update() judges what was found by then.
    if (this.#planned && this.#retired(known)) this.#remove(configTopic);
  }

  /** Whether an entity no longer wanted is gone for good (sensors.yaml) or only absent for now (bus). */
  #retired(known: Known): boolean {
    if (known.rom === undefined) return true; // the agent's own: it publishes every one it wants
    if (this.#plan.some((s) => s.device.id.sysfs === known.rom)) return true; // polled, but no longer this measurement (or prefix)
    const config = this.#o.config();
    const listed = sensorMap(config).get(known.rom);
    if (listed) return !listed.entry.enabled;
    // Not in sensors.yaml. Was it an unmapped sensor (it may come back as one) or a mapped one since removed?
    const wasUnmapped = known.stateTopic.startsWith(`${config.mqtt.base_topic}/1wire/`);
    return config.unmapped === 'ignore' || !wasUnmapped;
  }

  #remove(topic: string): void {
    this.#known.delete(topic);
    this.#o.log.info({ topic }, 'removing a Home Assistant entity no longer published');
    void this.#send(topic, '');
    void this.#send(`${twinRoot(this.#o.config())}/${topic}`, '');
  }

  #send(topic: string, payload: string): Promise<void> {
    return this.#o.link.publish(topic, payload, { qos: 1, retain: true }).catch((err: unknown) => {
      this.#o.log.warn({ topic, err: errText(err) }, 'could not publish Home Assistant discovery');
    });
  }
}

/** `<base_topic>/w1mqtt/<client_id>`: the agent's own tree (status, stats). */
function ownRoot(config: Config): string {
  return statusTopic(config).replace(/\/status$/, '');
}

/** Where the twins of the discovery configs live. */
function twinRoot(config: Config): string {
  return `${ownRoot(config)}/discovery`;
}

function parseTwin(payload: Buffer): Known | undefined {
  try {
    const twin = JSON.parse(payload.toString('utf8')) as { state_topic?: unknown; device?: unknown };
    return typeof twin.state_topic === 'string' ? { rom: typeof twin.device === 'string' ? twin.device : undefined, stateTopic: twin.state_topic } : undefined;
  } catch {
    return undefined;
  }
}

function packageSupportUrl(): string {
  try {
    return supportUrlOf(JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')));
  } catch {
    return DEFAULT_SUPPORT_URL;
  }
}
