import type { Config } from '../config/schema.js';
import { route, type Route } from '../mqtt/route.js';

/**
 * Pure: the topics a reload leaves behind. A sensor that now publishes elsewhere
 * (new topic, new base_topic for unmapped ones) or not at all (removed with
 * `unmapped: ignore`, or `enabled: false`) would leave its last retained value on
 * the old topic forever; the agent clears each with an empty retained message
 * (MQTT 3.1.1 §3.3.1.3: "a zero byte payload … will be removed"). A sensor that
 * only vanished from its bus is no config change and keeps its topic. A topic some
 * sensor still publishes to is never cleared, so swapping two topics is safe.
 */
export function retiredTopics(before: readonly Route[], after: Config): string[] {
  const next = new Map<string, string | undefined>();
  // Route each measurement again under the new config: same device, same measurement.
  for (const r of before) next.set(r.key, route(after, r.device, r.measurement)?.topic);
  const stillUsed = new Set([...next.values()].filter((t): t is string => t !== undefined));
  const retired = new Set<string>();
  for (const r of before) {
    const topic = next.get(r.key);
    if (topic !== r.topic && !stillUsed.has(r.topic)) retired.add(r.topic);
  }
  return [...retired];
}
