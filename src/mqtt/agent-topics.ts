import type { Config } from '../config/schema.js';
import { entryTopics } from '../devices/settings.js';
import { parseDiscoveryTopic } from './discovery.js';
import { statusTopic } from './topics.js';

/**
 * The topics only the agent may publish to on the bundled broker
 * (broker.protect_agent_topics): its sensors' topics (mapped and unmapped) and their
 * availability topics, its status and stats, and its Home Assistant discovery messages. Prefix checks, not
 * filters, so a client id or base topic with `+` or `#` in it cannot widen them.
 */
export function agentOwnsTopic(config: Config, plannedTopics: Iterable<string>, topic: string): boolean {
  const { base_topic } = config.mqtt;
  const own = statusTopic(config).replace(/\/status$/, '');
  if (topic === own || topic.startsWith(`${own}/`)) return true;
  if (topic.startsWith(`${base_topic}/1wire/`)) return true;
  // A sensor's topic, and its `<topic>/availability`.
  const sensorTopic = topic.endsWith('/availability') ? topic.slice(0, -'/availability'.length) : topic;
  for (const t of plannedTopics) if (t === topic || t === sensorTopic) return true;
  for (const value of Object.values(config.sensors)) {
    const topics = entryTopics(value); // a DS2438's humidity: … too
    if (topics.includes(topic) || topics.includes(sensorTopic)) return true;
  }
  return config.homeassistant.enabled && parseDiscoveryTopic(config.homeassistant.prefix, topic) !== undefined;
}
