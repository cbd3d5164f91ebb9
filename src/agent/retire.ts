import type { Config } from '../config/schema.js';
import { planSensors, type PlannedSensor } from './plan.js';

/**
 * Pure: the topics a reload leaves behind. A sensor that now publishes elsewhere
 * (new topic, new base_topic for unmapped ones) or not at all (removed with
 * `unmapped: ignore`, or `enabled: false`) would leave its last retained value on
 * the old topic forever; the agent clears each with an empty retained message
 * (MQTT 3.1.1 §3.3.1.3: "a zero byte payload … will be removed"). A sensor that
 * only vanished from its bus is no config change and keeps its topic. A topic some
 * sensor still publishes to is never cleared, so swapping two topics is safe.
 */
export function retiredTopics(before: readonly PlannedSensor[], after: Config): string[] {
  const next = new Map<string, string | undefined>();
  for (const sensor of before) {
    // Plan this one device again under the new config: same source, same device, same measurement.
    const replanned = planSensors(after, [{ source: sensor.source, devices: [sensor.device] }]).sensors.find((s) => s.key === sensor.key);
    next.set(sensor.key, replanned?.topic);
  }
  const stillUsed = new Set([...next.values()].filter((t): t is string => t !== undefined));
  const retired = new Set<string>();
  for (const sensor of before) {
    const topic = next.get(sensor.key);
    if (topic !== sensor.topic && !stillUsed.has(sensor.topic)) retired.add(sensor.topic);
  }
  return [...retired];
}
