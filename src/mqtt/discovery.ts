import type { Quantity } from '../devices/kinds.js';
import type { DeviceId } from '../onewire/ids.js';

/**
 * Home Assistant MQTT discovery payloads, built from what the agent measures. Pure:
 * the field names and values follow HA's MQTT sensor documentation
 * (home-assistant.io/integrations/sensor.mqtt, "Configuration Variables") and the
 * discovery topic `<prefix>/<component>/<object_id>/config` of
 * home-assistant.io/integrations/mqtt ("Discovery messages"); the test suite checks
 * them against a fixture of that schema (fixtures/homeassistant/).
 */

/** What a measurement is (devices/kinds.ts); HA's device classes use the same words. */
export type { Quantity };

/** One value a device reports on its own topic (a DS18B20 has one; a DS2438 several). */
export interface Measurement {
  readonly quantity: Quantity;
  /** The unit the published value is in: °C, %, V; empty for presence. */
  readonly unit: string;
  readonly topic: string;
  /**
   * The agent's name for it (devices/kinds.ts: `vdd`), in the unique id, so a DS2438's
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
}

export interface DiscoveryMessage {
  readonly topic: string;
  /** Retained JSON; an empty payload removes the entity (HA's "Removing entities"). */
  readonly payload: string;
  readonly uniqueId: string;
}

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

/** Every component this agent writes discovery for, to subscribe to `<prefix>/<component>/+/config`. */
export const COMPONENTS: readonly Component[] = ['sensor', 'binary_sensor'];

/** The ROM and measurement of a discovery topic this agent writes, or undefined for anyone else's. */
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
    // HA's MQTT binary_sensor: `online`/`offline` as published (devices/presence.ts), device class presence.
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
      },
      origin: { name: 'w1mqtt', sw_version: ctx.version },
    };
    return { topic: discoveryTopic(ctx.prefix, unique, presence ? 'binary_sensor' : 'sensor'), payload: JSON.stringify(config), uniqueId: unique };
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
