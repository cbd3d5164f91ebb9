import type { Config, SensorEntry } from '../config/schema.js';
import { parseDeviceId } from '../onewire/ids.js';
import { unmappedTopic } from '../mqtt/topics.js';
import type { Device, Source } from '../sources/source.js';
import type { ScheduledSensor } from './scheduler.js';

/** A sensor with everything needed to poll and publish it. */
export interface PlannedSensor extends ScheduledSensor {
  readonly topic: string;
  /** The id as the user wrote it in sensors.yaml, else the source's notation. */
  readonly displayId: string;
  readonly label: string | undefined;
  readonly offset: number;
  readonly mapped: boolean;
}

export interface Plan {
  readonly sensors: PlannedSensor[];
  /** Ids in sensors.yaml that no source currently sees, as the user wrote them. */
  readonly missing: string[];
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
 * Pure: which of the devices found get polled, where they publish and how often.
 * A chip seen by two sources is polled once, through the first source listed.
 */
export function planSensors(config: Config, found: readonly { source: Source; devices: readonly Device[] }[]): Plan {
  const map = sensorMap(config);
  const sensors: PlannedSensor[] = [];
  const seen = new Set<string>();
  for (const { source, devices } of found) {
    for (const device of devices) {
      const key = device.id.sysfs;
      if (seen.has(key)) continue;
      seen.add(key);
      const mapped = map.get(key);
      if (!mapped && config.unmapped === 'ignore') continue;
      if (mapped && !mapped.entry.enabled) continue;
      const displayId = mapped?.key ?? device.name;
      sensors.push({
        key,
        device,
        source,
        intervalMs: mapped?.entry.interval ?? config.interval,
        topic: mapped?.entry.topic ?? unmappedTopic(config.mqtt.base_topic, displayId),
        displayId,
        label: mapped?.entry.name,
        offset: mapped?.entry.offset ?? 0,
        mapped: mapped !== undefined,
      });
    }
  }
  const missing = [...map.entries()].filter(([sysfs, m]) => m.entry.enabled && !seen.has(sysfs)).map(([, m]) => m.key);
  return { sensors, missing };
}
