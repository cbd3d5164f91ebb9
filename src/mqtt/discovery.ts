import type { DeviceId } from '../onewire/ids.js';

/**
 * Home Assistant MQTT discovery payloads, built from what the agent measures. Pure:
 * the field names and values follow HA's MQTT sensor documentation
 * (home-assistant.io/integrations/sensor.mqtt, "Configuration Variables") and the
 * discovery topic `<prefix>/<component>/<object_id>/config` of
 * home-assistant.io/integrations/mqtt ("Discovery messages"); the test suite checks
 * them against a fixture of that schema (fixtures/homeassistant/).
 */

/** What a measurement is, as HA's sensor device classes name it. */
export type Quantity = 'temperature' | 'humidity' | 'voltage';

/** One value a device reports on its own topic (a DS18B20 has one; a DS2438 several). */
export interface Measurement {
  readonly quantity: Quantity;
  /** The unit the published value is in: °C, %, V. */
  readonly unit: string;
  readonly topic: string;
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

/** HA's unit list per device class (SensorDeviceClass docs); these are what the agent publishes. */
export const UNITS: Readonly<Record<Quantity, string>> = { temperature: '°C', humidity: '%', voltage: 'V' };

/** The 64-bit ROM in wire order (family, serial, CRC), lower-case hex: the chip's identity on any bus. */
export function romHex(id: DeviceId): string {
  return Buffer.from(id.rom).toString('hex');
}

export function uniqueId(id: DeviceId, quantity: Quantity): string {
  return `1wire_${romHex(id)}_${quantity}`;
}

/** `<prefix>/sensor/<unique_id>/config`; the object id must match [a-zA-Z0-9_-]+ (HA discovery docs). */
export function discoveryTopic(prefix: string, unique: string): string {
  return `${prefix}/sensor/${unique}/config`;
}

/** The ROM and quantity of a discovery topic this agent writes, or undefined for anyone else's. */
export function parseDiscoveryTopic(prefix: string, topic: string): { rom: string; quantity: Quantity } | undefined {
  if (!topic.startsWith(`${prefix}/sensor/`)) return undefined;
  const m = /^1wire_([0-9a-f]{16})_(temperature|humidity|voltage)\/config$/.exec(topic.slice(prefix.length + 8));
  return m ? { rom: m[1] ?? '', quantity: m[2] as Quantity } : undefined;
}

export function discoveryMessages(device: DiscoveryDevice, ctx: DiscoveryContext): DiscoveryMessage[] {
  const single = device.measurements.length === 1;
  const availability = [ctx.statusTopic, ...(device.availabilityTopic ? [device.availabilityTopic] : [])].map((topic) => ({
    topic,
    payload_available: 'online',
    payload_not_available: 'offline',
  }));
  return device.measurements.map((m) => {
    const unique = uniqueId(device.id, m.quantity);
    const config = {
      // null: the entity takes the device's name (HA: "can be set to null if only the device name is relevant").
      name: single ? null : capitalise(m.quantity),
      unique_id: unique,
      state_topic: m.topic,
      device_class: m.quantity,
      unit_of_measurement: m.unit,
      state_class: 'measurement',
      suggested_display_precision: ctx.decimals,
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
    return { topic: discoveryTopic(ctx.prefix, unique), payload: JSON.stringify(config), uniqueId: unique };
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
