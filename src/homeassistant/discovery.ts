import type { Quantity } from '../readings/kinds.js';
import type { DeviceId } from '../readings/device.js';
import type { Route } from '../mqtt/route.js';
import { availabilityTopic } from '../mqtt/topics.js';

/**
 * Home Assistant MQTT discovery payloads, built from what the agent measures and for the
 * agent itself (agentDiscoveryMessages), the device its sensors' devices hang under. Pure:
 * the field names and values follow HA's MQTT sensor documentation
 * (home-assistant.io/integrations/sensor.mqtt, "Configuration Variables") and the
 * discovery topic `<prefix>/<component>/<object_id>/config` of
 * home-assistant.io/integrations/mqtt ("Discovery messages"); the test suite checks
 * them against a fixture of that schema (fixtures/homeassistant/).
 */

/** What a measurement is (readings/kinds.ts); HA's device classes use the same words. */
export type { Quantity };

/** One value a device reports on its own topic (a DS18B20 has one; a DS2438 several). */
export interface Measurement {
  readonly quantity: Quantity;
  /** The unit the published value is in: °C, %, V; empty for presence. */
  readonly unit: string;
  readonly topic: string;
  /**
   * The agent's name for it (readings/kinds.ts: `vdd`), in the unique id, so a DS2438's
   * two voltages are two entities. @default the quantity
   */
  readonly measurement?: string;
  /** The entity's name on a device with several: "Supply voltage (VDD)". @default the quantity */
  readonly title?: string;
  /** Decimals as published. @default the context's */
  readonly decimals?: number;
  /** Its own `online`/`offline` topic (`<topic>/availability`), when the agent publishes one. */
  readonly availabilityTopic?: string | undefined;
}

export interface DiscoveryDevice {
  readonly id: DeviceId;
  /** Chip name from the family code, e.g. DS18B20. */
  readonly chip: string;
  /** What HA shows: the sensor's `name:` from sensors.yaml, else chip and id. */
  readonly name: string;
  readonly measurements: readonly Measurement[];
  /** A per-sensor `online`/`offline` topic, when the agent publishes one. */
  readonly availabilityTopic?: string | undefined;
}

export interface DiscoveryContext {
  /** homeassistant.prefix */
  readonly prefix: string;
  /** mqtt.payload: with `json`, HA needs a value_template to find the value. */
  readonly payload: 'plain' | 'json';
  readonly decimals: number;
  readonly qos: 0 | 1 | 2;
  /** The agent's `<base_topic>/w1mqtt/<client_id>/status`. */
  readonly statusTopic: string;
  readonly version: string;
  /** The agent device's identifier (agentIdentifier), named by every sensor device as its `via_device`. */
  readonly agent?: string | undefined;
  /** origin.support_url. @default DEFAULT_SUPPORT_URL */
  readonly supportUrl?: string | undefined;
}

export interface DiscoveryMessage {
  readonly topic: string;
  /** Retained JSON; an empty payload removes the entity (HA's "Removing entities"). */
  readonly payload: string;
  readonly uniqueId: string;
  readonly stateTopic: string;
}

/** Where to ask about w1mqtt, when package.json names no repository or homepage. */
export const DEFAULT_SUPPORT_URL = 'https://github.com/w1mqtt/w1mqtt';

/** origin.support_url from a parsed package.json: its homepage, else its repository (a string or `{ url }`). */
export function supportUrlOf(pkg: unknown): string {
  const p = (typeof pkg === 'object' && pkg !== null ? pkg : {}) as { homepage?: unknown; repository?: unknown };
  const repo = typeof p.repository === 'object' && p.repository !== null ? (p.repository as { url?: unknown }).url : p.repository;
  const url = [p.homepage, repo].find((u): u is string => typeof u === 'string' && /^(git\+)?https?:\/\//.test(u));
  // npm's `git+https://…/x.git` form is for git; a person wants the web page.
  return url?.replace(/^git\+/, '').replace(/\.git$/, '') ?? DEFAULT_SUPPORT_URL;
}

/**
 * HA's `origin` (integrations/mqtt, "Discovery payload"): logged by HA when it sets up or
 * updates an entity, so a user can tell which program made it and where to ask.
 */
function origin(ctx: DiscoveryContext): { name: string; sw_version: string; support_url: string } {
  return { name: 'w1mqtt', sw_version: ctx.version, support_url: ctx.supportUrl ?? DEFAULT_SUPPORT_URL };
}

/**
 * Measurements that say how the chip is doing rather than what it measures: HA files them under
 * the device's "Diagnostic" entities (entity_category, developers.home-assistant.io "Generic properties").
 * A DS2438's VDD is its supply voltage (readings/kinds.ts).
 */
const DIAGNOSTIC_MEASUREMENTS: ReadonlySet<string> = new Set(['vdd']);

/** The 64-bit ROM in wire order (family, serial, CRC), lower-case hex: the chip's identity on any bus. */
export function romHex(id: DeviceId): string {
  return Buffer.from(id.rom).toString('hex');
}

/** `1wire_<rom>_<measurement>`: a thermometer's is `…_temperature`, a DS2438's VDD `…_vdd`. */
export function uniqueId(id: DeviceId, measurement: string): string {
  return `1wire_${romHex(id)}_${measurement}`;
}

/** HA's component: presence is on or off (binary_sensor), the rest are numbers (sensor). */
export type Component = 'sensor' | 'binary_sensor';

/** `<prefix>/<component>/<unique_id>/config`; the object id must match [a-zA-Z0-9_-]+ (HA discovery docs). */
export function discoveryTopic(prefix: string, unique: string, component: Component = 'sensor'): string {
  return `${prefix}/${component}/${unique}/config`;
}

/** The ROM and measurement of a sensor's discovery topic this agent writes, or undefined for anyone else's. */
export function parseDiscoveryTopic(prefix: string, topic: string): { rom: string; measurement: string } | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const rest = topic.slice(prefix.length + 1);
  const m = /^sensor\/1wire_([0-9a-f]{16})_(temperature|humidity|voltage|vdd)\/config$/.exec(rest) ?? /^binary_sensor\/1wire_([0-9a-f]{16})_(presence)\/config$/.exec(rest);
  return m ? { rom: m[1] ?? '', measurement: m[2] ?? '' } : undefined;
}

export function discoveryMessages(device: DiscoveryDevice, ctx: DiscoveryContext): DiscoveryMessage[] {
  const single = device.measurements.length === 1;
  return device.measurements.map((m) => {
    const own = m.availabilityTopic ?? device.availabilityTopic;
    const availability = [ctx.statusTopic, ...(own ? [own] : [])].map((topic) => ({ topic, payload_available: 'online', payload_not_available: 'offline' }));
    const unique = uniqueId(device.id, m.measurement ?? m.quantity);
    const presence = m.quantity === 'presence';
    // HA's MQTT binary_sensor: `online`/`offline` as published (health/presence.ts), device class presence.
    const kind = presence
      ? { payload_on: 'online', payload_off: 'offline' }
      : { unit_of_measurement: m.unit, state_class: 'measurement', suggested_display_precision: m.decimals ?? ctx.decimals };
    const config = {
      // null: the entity takes the device's name (HA: "can be set to null if only the device name is relevant").
      name: single ? null : capitalise(m.title ?? m.quantity),
      unique_id: unique,
      state_topic: m.topic,
      device_class: m.quantity,
      ...kind,
      ...(DIAGNOSTIC_MEASUREMENTS.has(m.measurement ?? m.quantity) ? { entity_category: 'diagnostic' } : {}),
      ...(ctx.payload === 'json' ? { value_template: `{{ value_json.${m.quantity} }}` } : {}),
      qos: ctx.qos,
      availability,
      // Every topic must say `online`: the agent is up and, where there is one, the sensor answers.
      availability_mode: 'all',
      device: {
        identifiers: [`1wire_${romHex(device.id)}`],
        name: device.name,
        manufacturer: 'Maxim Integrated (Analog Devices)',
        model: device.chip,
        model_id: `family 0x${device.id.family}`,
        serial_number: device.id.sysfs,
        // The agent reads the chip for HA: HA shows the chip under the agent's device.
        ...(ctx.agent === undefined ? {} : { via_device: ctx.agent }),
      },
      origin: origin(ctx),
    };
    return { topic: discoveryTopic(ctx.prefix, unique, presence ? 'binary_sensor' : 'sensor'), payload: JSON.stringify(config), uniqueId: unique, stateTopic: m.topic };
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What HA learns of the agent itself: its client id names it, its host is what a person recognises. */
export interface AgentInfo {
  readonly clientId: string;
  readonly host: string;
  /** `<base_topic>/w1mqtt/<client_id>/stats` (mqtt/agent-stats.ts), or undefined when stats_interval is 0. */
  readonly statsTopic: string | undefined;
}

/** The agent device's identifier, and every sensor device's `via_device`. */
export function agentIdentifier(clientId: string): string {
  return `w1mqtt_${clientId}`;
}

/** A client id may hold any character; an object id only [a-zA-Z0-9_-] (HA discovery docs, "Discovery topic"). */
function objectId(clientId: string, key: string): string {
  return `w1mqtt_${clientId.replace(/[^a-zA-Z0-9_-]/g, '_')}_${key}`;
}

/** The stats entities: each reads one field of the retained stats JSON (agent-stats.ts statsPayload). */
const STATS_ENTITIES = [
  { key: 'readings_ok', name: 'Readings ok', template: '{{ value_json.readings.ok }}', kind: { state_class: 'total_increasing' } },
  { key: 'readings_failed', name: 'Readings failed', template: '{{ value_json.readings.failed }}', kind: { state_class: 'total_increasing' } },
  { key: 'queue_depth', name: 'Queue depth', template: '{{ value_json.queue.depth }}', kind: { state_class: 'measurement' } },
  // `last_cycle_ms` is null before the first pass: the template renders "None", which HA's MQTT
  // sensor takes as "unknown" (PAYLOAD_NONE in homeassistant/components/mqtt), not as a bad number.
  {
    key: 'last_cycle',
    name: 'Last cycle',
    template: '{{ value_json.last_cycle_ms }}',
    kind: { device_class: 'duration', unit_of_measurement: 'ms', state_class: 'measurement' },
  },
] as const;

/**
 * The agent as an HA device, "w1mqtt on <host>", with diagnostic entities only: its
 * connectivity (the status topic itself, so no availability of its own: `offline` shows as
 * disconnected, not unavailable) and its counters from the stats topic (unavailable while
 * the agent is offline). Listed before the sensors' configs so the device exists when they
 * name it as their `via_device`.
 */
export function agentDiscoveryMessages(agent: AgentInfo, ctx: DiscoveryContext): DiscoveryMessage[] {
  const device = { identifiers: [agentIdentifier(agent.clientId)], name: `w1mqtt on ${agent.host}`, manufacturer: 'w1mqtt', model: 'w1mqtt agent', sw_version: ctx.version };
  const common = { entity_category: 'diagnostic', qos: ctx.qos, device, origin: origin(ctx) };
  const message = (key: string, component: Component, stateTopic: string, config: object): DiscoveryMessage => {
    const unique = objectId(agent.clientId, key);
    return { topic: discoveryTopic(ctx.prefix, unique, component), uniqueId: unique, stateTopic, payload: JSON.stringify({ ...config, unique_id: unique, state_topic: stateTopic, ...common }) };
  };
  const status = message('status', 'binary_sensor', ctx.statusTopic, { name: 'Status', device_class: 'connectivity', payload_on: 'online', payload_off: 'offline' });
  const stats = agent.statsTopic;
  if (stats === undefined) return [status];
  const availability = [{ topic: ctx.statusTopic, payload_available: 'online', payload_not_available: 'offline' }];
  return [status, ...STATS_ENTITIES.map((e) => message(e.key, 'sensor', stats, { name: e.name, value_template: e.template, ...e.kind, availability }))];
}

/**
 * The routes of one chip (its measurements, readings/kinds.ts) as one HA device,
 * named after its main measurement's sensor (a thermometer's name, a DS2438's temperature).
 */
export function deviceOf(routes: readonly Route[], perSensorAvailability = false): DiscoveryDevice {
  const [main] = routes;
  if (!main) throw new Error('deviceOf: no routes');
  return {
    id: main.device.id,
    chip: main.device.chip,
    name: main.label ?? `${main.device.chip} ${main.displayId.split('/')[0] ?? ''}`,
    measurements: routes.map((s) => ({
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
