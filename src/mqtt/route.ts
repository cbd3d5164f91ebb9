import { queueMode, type Config, type QueueMode, type SensorEntry } from '../config/schema.js';
import { measurementSettings } from '../config/sensor-settings.js';
import { parseDeviceId } from '../onewire/ids.js';
import { readTarget, type Device } from '../readings/device.js';
import { deviceKind, type Measurement } from '../readings/kinds.js';
import { unmappedTopic } from './topics.js';

/** Where and as what a measurement is published. */
export interface PublishTarget {
  readonly topic: string;
  /**
   * The id as the user wrote it in sensors.yaml, else the source's notation; for a
   * device's further measurements followed by `/<measurement>` (`26-…/humidity`), so
   * logs, faults and the page tell them apart.
   */
  readonly displayId: string;
  readonly label: string | undefined;
  /** What is measured: quantity, unit, decimals (readings/kinds.ts). */
  readonly measurement: Measurement;
}

/**
 * One measurement of one device as the config routes it: where it is published, under
 * which name, how it is calibrated and queued, and how often the config wants it read.
 * A thermometer has one route; a DS2438 four (temperature, humidity, voltage, vdd).
 * No reader: whoever shows or announces a sensor needs only this.
 */
export interface Route extends PublishTarget {
  /** Stable across reloads: the sysfs id, plus `/<measurement>` for a device's further ones. */
  readonly key: string;
  /** The device as read for this measurement (readings/device.ts readTarget). */
  readonly device: Device;
  readonly intervalMs: number;
  /** Added to every reading (°C for a temperature): the sensor's calibration. */
  readonly offset: number;
  /** Listed in sensors.yaml (as opposed to published under the unmapped topic). */
  readonly mapped: boolean;
  /** After an outage: deliver every queued reading, or only the newest. */
  readonly queue: QueueMode;
}

export interface MapEntry {
  /** The id as the user wrote it. */
  readonly key: string;
  readonly entry: SensorEntry;
}

/** sensors.yaml entries keyed by sysfs notation, so both notations find the same chip. */
export function sensorMap(config: Config): Map<string, MapEntry> {
  const map = new Map<string, MapEntry>();
  for (const [key, value] of Object.entries(config.sensors)) {
    const id = parseDeviceId(key);
    if (!id) continue; // the schema already refused it
    const entry: SensorEntry = typeof value === 'string' ? { topic: value, offset: 0, enabled: true } : (value ?? { offset: 0, enabled: true });
    map.set(id.sysfs, { key, entry });
  }
  return map;
}

/**
 * Pure: the route of one measurement of a device, or undefined when the config does not
 * publish it (an unknown chip, `unmapped: ignore`, `enabled: false`, a measurement turned
 * off). `map` is sensorMap(config), passed in when routing many devices at once.
 */
export function route(config: Config, device: Device, measurement: Measurement, map = sensorMap(config)): Route | undefined {
  const key = device.id.sysfs;
  const kind = deviceKind(device.id.family);
  const index = kind?.measurements.indexOf(measurement) ?? -1;
  if (!kind || index < 0) return undefined;
  const mapped = map.get(key);
  if (!mapped && config.unmapped === 'ignore') return undefined;
  if (mapped && !mapped.entry.enabled) return undefined;
  const settings = measurementSettings(mapped?.entry, kind, measurement);
  if (!settings.enabled) return undefined;
  const id = mapped?.key ?? device.name;
  const suffix = refSuffix(index, measurement);
  return {
    key: `${key}${suffix}`,
    device: readTarget(device, measurement),
    intervalMs: settings.interval ?? config.interval,
    topic: settings.topic ?? unmappedTopic(config.mqtt.base_topic, id, measurement.suffix),
    displayId: `${id}${suffix}`,
    label: settings.name,
    offset: settings.offset,
    mapped: mapped !== undefined,
    measurement,
    queue: queueMode(config, mapped?.entry),
  };
}

/** Every route of a device, main measurement first: one per measurement the config publishes. */
export function deviceRoutes(config: Config, device: Device, map = sensorMap(config)): Route[] {
  const measurements = deviceKind(device.id.family)?.measurements ?? [];
  return measurements.flatMap((m) => route(config, device, m, map) ?? []);
}

/**
 * The presence measurements of a device listed in sensors.yaml that no source sees: known
 * without a read to be `offline` (an iButton not on its reader).
 */
export function absentPresence(config: Config, sysfs: string, { key, entry }: MapEntry): PublishTarget[] {
  const kind = deviceKind(sysfs.slice(0, 2));
  if (!kind) return [];
  return kind.measurements.flatMap((measurement, i) => {
    const settings = measurementSettings(entry, kind, measurement);
    if (measurement.quantity !== 'presence' || !settings.enabled) return [];
    const displayId = `${key}${refSuffix(i, measurement)}`;
    return [{ displayId, topic: settings.topic ?? unmappedTopic(config.mqtt.base_topic, key, measurement.suffix), label: settings.name, measurement }];
  });
}

/** A device's main measurement goes by its id alone (as every thermometer does); the others add `/<name>`. */
function refSuffix(index: number, measurement: Measurement): string {
  return index === 0 ? '' : `/${measurement.name}`;
}
