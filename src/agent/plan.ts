import type { Config } from '../config/schema.js';
import { absentPresence, deviceRoutes, sensorMap, type PublishTarget, type Route } from '../mqtt/route.js';
import { deviceKind } from '../readings/kinds.js';
import type { Device } from '../readings/device.js';
import type { Source } from '../sources/source.js';
import type { ScheduledSensor } from '../sampling/scheduler.js';

/**
 * What the devices found mean under a config: for each measurement polled, its route
 * (mqtt/route.ts: where and as what it is published) and its schedule (which reader,
 * how often). Both are keyed alike (`28-…`, `26-…/humidity`); only the agent pairs them,
 * so nothing that shows or announces a sensor ever holds its reader.
 */
export interface Plan {
  readonly routes: Route[];
  /** One per route, in the same order. */
  readonly scheduled: ScheduledSensor[];
  /** Ids in sensors.yaml that no source currently sees, as the user wrote them. */
  readonly missing: string[];
  /** Presence measurements of those, known without a read: `offline`. */
  readonly absent: PublishTarget[];
}

/**
 * Pure: which of the devices found get polled, where they publish and how often:
 * one entry per device and measurement. A chip seen by two sources is polled once,
 * through the first source listed.
 */
export function planSensors(config: Config, found: readonly { source: Source; devices: readonly Device[] }[]): Plan {
  const map = sensorMap(config);
  const routes: Route[] = [];
  const scheduled: ScheduledSensor[] = [];
  const seen = new Set<string>();
  for (const { source, devices } of found) {
    for (const device of devices) {
      const key = device.id.sysfs;
      if (seen.has(key) || !deviceKind(device.id.family)) continue;
      seen.add(key);
      for (const r of deviceRoutes(config, device, map)) {
        routes.push(r);
        scheduled.push({ key: r.key, device: r.device, source, intervalMs: r.intervalMs });
      }
    }
  }
  const missing = [...map.entries()].filter(([sysfs, m]) => m.entry.enabled && !seen.has(sysfs));
  return { routes, scheduled, missing: missing.map(([, m]) => m.key), absent: missing.flatMap(([sysfs, m]) => absentPresence(config, sysfs, m)) };
}
