import { queueMode, type Config, type QueueMode, type SensorEntry } from '../config/schema.js';
import { deviceKind, type Measurement } from '../readings/kinds.js';
import { readTarget } from '../readings/device.js';
import { measurementSettings } from '../config/sensor-settings.js';
import { parseDeviceId } from '../onewire/ids.js';
import { unmappedTopic } from '../mqtt/topics.js';
import type { Device } from '../readings/device.js';
import type { Source } from '../sources/source.js';
import type { ScheduledSensor } from '../sampling/scheduler.js';

/** Where and as what a measurement is published: every planned sensor is one. */
export interface PublishTarget {
  readonly topic: string;
  /**
   * The id as the user wrote it in sensors.yaml, else the source's notation; for a
   * device's further measurements followed by `/<measurement>` (`26-…/humidity`), so
   * logs, faults and the page tell them apart.
   */
  readonly displayId: string;
  readonly label: string | undefined;
  /** What is measured: quantity, unit, decimals (devices/kinds.ts). */
  readonly measurement: Measurement;
}

/**
 * One measurement of one device with everything needed to poll and publish it. A
 * thermometer is one; a DS2438 is four (temperature, humidity, voltage, vdd), each
 * with its own key, topic and schedule.
 */
export interface PlannedSensor extends ScheduledSensor, PublishTarget {
  readonly offset: number;
  readonly mapped: boolean;
  /** After an outage: deliver every queued reading, or only the newest. */
  readonly queue: QueueMode;
}

export interface Plan {
  readonly sensors: PlannedSensor[];
  /** Ids in sensors.yaml that no source currently sees, as the user wrote them. */
  readonly missing: string[];
  /** Presence measurements of those, known without a read: `offline`. */
  readonly absent: PublishTarget[];
}

interface MapEntry {
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
 * Pure: which of the devices found get polled, where they publish and how often:
 * one entry per device and measurement. A chip seen by two sources is polled once,
 * through the first source listed.
 */
export function planSensors(config: Config, found: readonly { source: Source; devices: readonly Device[] }[]): Plan {
  const map = sensorMap(config);
  const sensors: PlannedSensor[] = [];
  const seen = new Set<string>();
  for (const { source, devices } of found) {
    for (const device of devices) {
      const key = device.id.sysfs;
      const kind = deviceKind(device.id.family);
      if (seen.has(key) || !kind) continue;
      seen.add(key);
      const mapped = map.get(key);
      if (!mapped && config.unmapped === 'ignore') continue;
      if (mapped && !mapped.entry.enabled) continue;
      const id = mapped?.key ?? device.name;
      for (const [i, measurement] of kind.measurements.entries()) {
        const settings = measurementSettings(mapped?.entry, kind, measurement);
        if (!settings.enabled) continue;
        const suffix = refSuffix(i, measurement);
        sensors.push({
          key: `${key}${suffix}`,
          device: readTarget(device, measurement),
          source,
          intervalMs: settings.interval ?? config.interval,
          topic: settings.topic ?? unmappedTopic(config.mqtt.base_topic, id, measurement.suffix),
          displayId: `${id}${suffix}`,
          label: settings.name,
          offset: settings.offset,
          mapped: mapped !== undefined,
          measurement,
          queue: queueMode(config, mapped?.entry),
        });
      }
    }
  }
  const missing = [...map.entries()].filter(([sysfs, m]) => m.entry.enabled && !seen.has(sysfs));
  return { sensors, missing: missing.map(([, m]) => m.key), absent: missing.flatMap(([sysfs, m]) => absentPresence(config, sysfs, m)) };
}

/** A device's main measurement goes by its id alone (as every thermometer does); the others add `/<name>`. */
function refSuffix(index: number, measurement: Measurement): string {
  return index === 0 ? '' : `/${measurement.name}`;
}

function absentPresence(config: Config, sysfs: string, { key, entry }: MapEntry): PublishTarget[] {
  const kind = deviceKind(sysfs.slice(0, 2));
  if (!kind) return [];
  return kind.measurements.flatMap((measurement, i) => {
    const settings = measurementSettings(entry, kind, measurement);
    if (measurement.quantity !== 'presence' || !settings.enabled) return [];
    const displayId = `${key}${refSuffix(i, measurement)}`;
    return [{ displayId, topic: settings.topic ?? unmappedTopic(config.mqtt.base_topic, key, measurement.suffix), label: settings.name, measurement }];
  });
}
