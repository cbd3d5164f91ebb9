import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { sensorMap, type PlannedSensor } from '../sampling/plan.js';
import { COMPONENTS, discoveryMessages, parseDiscoveryTopic, type DiscoveryDevice } from './discovery.js';
import type { MessageHandler, PublishOptions } from './publisher.js';
import { availabilityTopic, statusTopic } from './topics.js';
import { errText } from '../system/err-text.js';

/**
 * Keeps Home Assistant's view of the sensors in step with the agent: publishes the
 * retained discovery configs for the polled sensors on every plan change, again when
 * HA announces itself (`homeassistant/status` = `online`, its birth message), and
 * removes (empty retained message) the entity of a sensor taken out of sensors.yaml.
 *
 * It also subscribes to `<prefix>/sensor/+/config` (and `binary_sensor`) to see the configs it left on the
 * broker in an earlier run (recognised by their availability topic being this
 * agent's status topic): one for a sensor removed from sensors.yaml while the agent
 * was stopped is removed too. A sensor that is only absent from its bus keeps its
 * entity (HA shows the last value; it comes back by itself).
 */

export interface DiscoveryLink {
  publish(topic: string, payload: string, opts: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): void;
}

export interface HomeAssistantDiscoveryOptions {
  readonly link: DiscoveryLink;
  readonly log: Logger;
  readonly config: () => Config;
  readonly version: string;
}

interface Known {
  /** sysfs id of the chip, to look it up in the plan and in sensors.yaml. */
  readonly rom: string;
  readonly stateTopic: string;
}

export class HomeAssistantDiscovery {
  readonly #o: HomeAssistantDiscoveryOptions;
  /** Discovery topics currently retained on the broker by this agent (published now or found from before). */
  readonly #known = new Map<string, Known>();
  #desired = new Map<string, { payload: string; known: Known }>();
  #plan: readonly PlannedSensor[] = [];

  constructor(options: HomeAssistantDiscoveryOptions) {
    this.#o = options;
  }

  start(): void {
    const { homeassistant } = this.#o.config();
    this.#o.link.subscribe(homeassistant.status_topic, (_topic, payload) => {
      if (payload.toString('utf8').trim() !== 'online') return;
      this.#o.log.info({ sensors: this.#desired.size }, 'Home Assistant is online: publishing discovery again');
      this.#publishAll();
    });
    for (const component of COMPONENTS) this.#o.link.subscribe(`${homeassistant.prefix}/${component}/+/config`, (topic, payload) => this.#seen(topic, payload));
  }

  /** The polled sensors changed (start, discovery, reload): publish their configs, remove retired ones. */
  update(sensors: readonly PlannedSensor[]): void {
    this.#plan = sensors;
    const config = this.#o.config();
    const ctx = {
      prefix: config.homeassistant.prefix,
      payload: config.mqtt.payload,
      decimals: config.mqtt.decimals,
      qos: config.mqtt.qos,
      statusTopic: statusTopic(config),
      version: this.#o.version,
    };
    const desired = new Map<string, { payload: string; known: Known }>();
    // One HA device per chip, one entity per measurement (a DS2438 is four planned sensors).
    const byDevice = new Map<string, PlannedSensor[]>();
    for (const sensor of sensors) byDevice.set(sensor.device.id.sysfs, [...(byDevice.get(sensor.device.id.sysfs) ?? []), sensor]);
    for (const [rom, measured] of byDevice) {
      const device = deviceOf(measured, config.unavailable_after > 0);
      for (const [i, m] of discoveryMessages(device, ctx).entries()) {
        desired.set(m.topic, { payload: m.payload, known: { rom, stateTopic: device.measurements[i]?.topic ?? '' } });
      }
    }
    this.#desired = desired;
    this.#publishAll();
    for (const [topic, known] of [...this.#known]) if (!desired.has(topic) && this.#retired(known)) this.#remove(topic);
  }

  #publishAll(): void {
    for (const [topic, { payload, known }] of this.#desired) {
      this.#known.set(topic, known);
      this.#send(topic, payload);
    }
  }

  #seen(topic: string, payload: Buffer): void {
    const config = this.#o.config();
    const parsed = parseDiscoveryTopic(config.homeassistant.prefix, topic);
    if (!parsed) return;
    if (payload.length === 0) {
      if (!this.#desired.has(topic)) this.#known.delete(topic);
      return;
    }
    const ours = ownConfig(payload, statusTopic(config));
    if (!ours || this.#desired.has(topic) || this.#known.has(topic)) return;
    const rom = sysfsOfRom(parsed.rom);
    const known = { rom, stateTopic: ours.stateTopic };
    this.#known.set(topic, known);
    if (this.#retired(known)) this.#remove(topic);
  }

  /** Whether an entity no longer wanted is gone for good (sensors.yaml) or only absent for now (bus). */
  #retired(known: Known): boolean {
    if (this.#plan.some((s) => s.device.id.sysfs === known.rom)) return true; // polled, but no longer this measurement
    const config = this.#o.config();
    const listed = sensorMap(config).get(known.rom);
    if (listed) return !listed.entry.enabled;
    // Not in sensors.yaml. Was it an unmapped sensor (it may come back as one) or a mapped one since removed?
    const wasUnmapped = known.stateTopic.startsWith(`${config.mqtt.base_topic}/1wire/`);
    return config.unmapped === 'ignore' || !wasUnmapped;
  }

  #remove(topic: string): void {
    this.#known.delete(topic);
    this.#o.log.info({ topic }, 'removing the Home Assistant entity of a sensor no longer in sensors.yaml');
    this.#send(topic, '');
  }

  #send(topic: string, payload: string): void {
    this.#o.link.publish(topic, payload, { qos: 1, retain: true }).catch((err: unknown) => {
      this.#o.log.warn({ topic, err: errText(err) }, 'could not publish Home Assistant discovery');
    });
  }
}

/**
 * The planned sensors of one chip (its measurements, devices/kinds.ts) as one HA device,
 * named after its main measurement's sensor (a thermometer's name, a DS2438's temperature).
 */
export function deviceOf(sensors: readonly PlannedSensor[], perSensorAvailability = false): DiscoveryDevice {
  const [main] = sensors;
  if (!main) throw new Error('deviceOf: no sensors');
  return {
    id: main.device.id,
    chip: main.device.chip,
    name: main.label ?? `${main.device.chip} ${main.displayId.split('/')[0] ?? ''}`,
    measurements: sensors.map((s) => ({
      quantity: s.measurement.quantity,
      unit: s.measurement.unit,
      topic: s.topic,
      measurement: s.measurement.name,
      title: s.measurement.title,
      ...(s.measurement.decimals === undefined ? {} : { decimals: s.measurement.decimals }),
      // The agent's `<topic>/availability` (unavailable_after > 0): HA greys out a failing sensor too.
      ...(perSensorAvailability ? { availabilityTopic: availabilityTopic(s.topic) } : {}),
    })),
  };
}

/** A discovery config this agent wrote: its availability list names our status topic. */
function ownConfig(payload: Buffer, status: string): { stateTopic: string } | undefined {
  try {
    const config = JSON.parse(payload.toString('utf8')) as { availability?: { topic?: unknown }[]; state_topic?: unknown };
    if (!Array.isArray(config.availability) || !config.availability.some((a) => a.topic === status)) return undefined;
    return { stateTopic: typeof config.state_topic === 'string' ? config.state_topic : '' };
  } catch {
    return undefined;
  }
}

/** `28ff2d79a216037a` (wire order with CRC) → `28-0316a2792dff`, the agent's key. */
function sysfsOfRom(rom: string): string {
  const serial = (rom.slice(2, 14).match(/../g) ?? []).reverse().join('');
  return `${rom.slice(0, 2)}-${serial}`;
}
