import { readFileSync } from 'node:fs';
import { FIXTURES } from './agent-process.js';

/**
 * Checks a discovery message against fixtures/homeassistant/mqtt-sensor-discovery.json,
 * the fields Home Assistant documents for an MQTT sensor, and against BINARY_SENSOR and
 * EXTRA_SENSOR_UNITS below for what the fixture leaves out. Returns every problem found.
 */

interface KeySpec {
  readonly [key: string]: string;
}
interface Schema {
  topic: { pattern: string };
  sensor: {
    required: string[];
    keys: KeySpec;
    exclusive: string[][];
    availability_mode: string[];
    qos: number[];
    state_class: string[];
    entity_category: string[];
    device_class_units: Record<string, string[]>;
  };
  availability_item: { required: string[]; keys: KeySpec };
  device: { one_of_required: string[]; keys: KeySpec };
  origin: { required: string[]; keys: KeySpec };
}

const schema = JSON.parse(readFileSync(`${FIXTURES}/homeassistant/mqtt-sensor-discovery.json`, 'utf8')) as Schema;

/**
 * The MQTT binary sensor, from home-assistant.io/integrations/binary_sensor.mqtt
 * ("Configuration Variables") and the device classes of integrations/binary_sensor: the
 * sensor's keys less the numeric ones (unit, state class, precision, last reset, options),
 * plus its own; no unit, and `entity_category` likewise only `diagnostic`.
 */
const SENSOR_ONLY = ['unit_of_measurement', 'state_class', 'suggested_display_precision', 'last_reset_value_template', 'options'];
const BINARY_SENSOR = {
  keys: {
    ...Object.fromEntries(Object.entries(schema.sensor.keys).filter(([k]) => !SENSOR_ONLY.includes(k))),
    payload_on: 'string',
    payload_off: 'string',
    off_delay: 'integer',
  } as KeySpec,
  device_classes: [
    'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat', 'light', 'lock', 'moisture', 'motion',
    'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window',
  ],
};
/** Sensor device classes the fixture does not list (integrations/sensor, "Device class"): the agent's last cycle is a duration. */
const EXTRA_SENSOR_UNITS: Record<string, string[]> = { duration: ['d', 'h', 'min', 's', 'ms', 'µs'] };
const TOPIC = /^(?<prefix>[^#+]+)\/(?<component>sensor|binary_sensor)\/(?:(?<node_id>[a-zA-Z0-9_-]+)\/)?(?<object_id>[a-zA-Z0-9_-]+)\/config$/;

function typeOk(value: unknown, spec: string): boolean {
  return spec.split('|').some((t) => {
    switch (t) {
      case 'string':
        return typeof value === 'string';
      case 'null':
        return value === null;
      case 'boolean':
        return typeof value === 'boolean';
      case 'integer':
        return Number.isInteger(value);
      case 'list':
        return Array.isArray(value);
      case 'map':
        return typeof value === 'object' && value !== null && !Array.isArray(value);
      default:
        return false;
    }
  });
}

function checkKeys(where: string, obj: Record<string, unknown>, keys: KeySpec, problems: string[]): void {
  for (const [key, value] of Object.entries(obj)) {
    const spec = keys[key];
    if (spec === undefined) problems.push(`${where}: unknown key ${key}`);
    else if (!typeOk(value, spec)) problems.push(`${where}.${key}: expected ${spec}, got ${JSON.stringify(value)}`);
  }
}

/** A sensor's or a binary_sensor's discovery message (the component is the topic's). */
export function checkDiscovery(topic: string, payload: string): string[] {
  const problems: string[] = [];
  const binary = TOPIC.exec(topic)?.groups?.['component'] === 'binary_sensor';
  if (!binary && !new RegExp(schema.topic.pattern).test(topic)) problems.push(`topic ${topic} does not match ${schema.topic.pattern}`);
  if (binary && !TOPIC.test(topic)) problems.push(`topic ${topic} does not match ${TOPIC.source}`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return [...problems, 'payload is not JSON'];
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return [...problems, 'payload is not a JSON object'];
  const s = schema.sensor;
  for (const key of s.required) if (!(key in config)) problems.push(`missing required ${key}`);
  checkKeys(binary ? 'binary_sensor' : 'sensor', config, binary ? BINARY_SENSOR.keys : s.keys, problems);
  for (const group of s.exclusive) if (group.filter((k) => k in config).length > 1) problems.push(`${group.join(' and ')} cannot be used together`);
  if ('availability_mode' in config && !s.availability_mode.includes(String(config['availability_mode']))) problems.push(`availability_mode ${String(config['availability_mode'])}`);
  if ('qos' in config && !s.qos.includes(Number(config['qos']))) problems.push(`qos ${String(config['qos'])}`);
  if ('state_class' in config && !s.state_class.includes(String(config['state_class']))) problems.push(`state_class ${String(config['state_class'])}`);
  if ('entity_category' in config && !s.entity_category.includes(String(config['entity_category']))) problems.push(`entity_category ${String(config['entity_category'])}`);
  const dc = config['device_class'];
  if (binary) {
    if (typeof dc === 'string' && !BINARY_SENSOR.device_classes.includes(dc)) problems.push(`binary_sensor device_class ${dc}`);
  } else if (typeof dc === 'string') {
    const units = s.device_class_units[dc] ?? EXTRA_SENSOR_UNITS[dc];
    if (!units) problems.push(`device_class ${dc} not covered by the fixture`);
    else if (!units.includes(String(config['unit_of_measurement']))) problems.push(`unit ${String(config['unit_of_measurement'])} not valid for device_class ${dc}`);
  }
  if ('device' in config && !('unique_id' in config)) problems.push('device needs unique_id');
  const availability = config['availability'];
  if (Array.isArray(availability)) {
    for (const [i, item] of availability.entries()) {
      const a = item as Record<string, unknown>;
      for (const key of schema.availability_item.required) if (!(key in a)) problems.push(`availability[${i}] missing ${key}`);
      checkKeys(`availability[${i}]`, a, schema.availability_item.keys, problems);
    }
  }
  const device = config['device'];
  if (typeof device === 'object' && device !== null) {
    const d = device as Record<string, unknown>;
    if (!schema.device.one_of_required.some((k) => k in d)) problems.push(`device needs one of ${schema.device.one_of_required.join(', ')}`);
    checkKeys('device', d, schema.device.keys, problems);
  }
  const origin = config['origin'];
  if (typeof origin === 'object' && origin !== null) {
    const o = origin as Record<string, unknown>;
    for (const key of schema.origin.required) if (!(key in o)) problems.push(`origin missing ${key}`);
    checkKeys('origin', o, schema.origin.keys, problems);
  }
  return problems;
}

/** The name the callers have used since sensors were all there was. */
export const checkSensorDiscovery = checkDiscovery;
