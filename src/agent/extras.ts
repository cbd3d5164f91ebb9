import type { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { StatsReporter, type BusStat, type QueueStat } from './stats.js';
import { HomeAssistantDiscovery } from '../homeassistant/sync.js';
import type { MessageHandler, MqttPublisher } from '../mqtt/publisher.js';
import { statusTopic } from '../mqtt/topics.js';
import type { Route } from '../mqtt/route.js';
import type { AgentEvents } from './events.js';

/**
 * What rides on the agent's connection beside the readings: its stats topic and,
 * when enabled, Home Assistant discovery. Wired to the agent only through its
 * events and a few read-only accessors, so the agent's core stays unaware of them.
 */

export interface ExtrasOptions {
  readonly events: EventEmitter<AgentEvents>;
  readonly publisher: () => MqttPublisher | undefined;
  readonly config: () => Config;
  readonly sensors: () => readonly Route[];
  readonly busStats: () => readonly BusStat[];
  /** What waits for the broker (the outbox): depth and what was given up. */
  readonly queue: () => QueueStat;
  readonly log: Logger;
  readonly version: string;
}

export interface Extras {
  /** The agent replaced its MQTT client (live reload): subscribe again on the new one. */
  reattach(): void;
  stop(): void;
}

export function startExtras(o: ExtrasOptions): Extras {
  const noConnection = (): Promise<void> => Promise.reject(new Error('no MQTT connection'));
  const subscriptions: [string, MessageHandler][] = [];
  const statsTopic = (): string => statusTopic(o.config()).replace(/\/status$/, '/stats');
  const stats = new StatsReporter({
    topic: statsTopic,
    intervalMs: o.config().mqtt.stats_interval,
    planned: () => o.sensors().map((s) => s.key),
    publish: (topic, payload) => o.publisher()?.publish(topic, payload, { qos: 0, retain: true }) ?? noConnection(),
    source: {
      sensors: () => o.sensors().length,
      busStats: o.busStats,
      connected: () => o.publisher()?.connected ?? false,
      published: () => o.publisher()?.counters.published ?? 0,
      queue: o.queue,
    },
  });
  stats.start();

  let discovery: HomeAssistantDiscovery | undefined;
  // What discovery subscribes by: HA's status topic, and its records under the agent's own topic.
  const discoveryKey = (config: Config) => ({ ha: config.homeassistant, own: statusTopic(config) });
  let haConfig = discoveryKey(o.config());
  const startDiscovery = (): void => {
    haConfig = discoveryKey(o.config());
    if (!haConfig.ha.enabled) return;
    discovery = new HomeAssistantDiscovery({
      link: {
        publish: (topic, payload, opts) => o.publisher()?.publish(topic, payload, opts) ?? noConnection(),
        subscribe: (filter, handler) => {
          subscriptions.push([filter, handler]);
          o.publisher()?.subscribe(filter, handler);
        },
      },
      log: o.log.child({ module: 'homeassistant' }),
      config: o.config,
      version: o.version,
    });
    discovery.start();
  };
  startDiscovery();

  const onReading: (...args: AgentEvents['reading']) => void = (reading) => stats.count(true, reading.key);
  const onFailure: (...args: AgentEvents['failure']) => void = (_error, route) => stats.count(false, route.key);
  const onPlan: (...args: AgentEvents['plan']) => void = (sensors) => discovery?.update(sensors);
  const onReload: (...args: AgentEvents['reload']) => void = (config) => {
    stats.reschedule(config.mqtt.stats_interval);
    if (!isDeepStrictEqual(haConfig, discoveryKey(config))) {
      // A new prefix, status topic or agent topic: a fresh discovery. It finds the configs
      // published under an old prefix in its records and removes them.
      subscriptions.length = 0;
      discovery?.stop();
      discovery = undefined;
      o.publisher()?.unsubscribeAll();
      startDiscovery();
    }
    // Names, topics, payload format or client id may have changed without a new plan: publish again.
    discovery?.update(o.sensors());
  };
  o.events.on('reading', onReading);
  o.events.on('failure', onFailure);
  o.events.on('plan', onPlan);
  o.events.on('reload', onReload);
  return {
    reattach() {
      const publisher = o.publisher();
      for (const [filter, handler] of subscriptions) publisher?.subscribe(filter, handler);
    },
    stop() {
      stats.stop();
      discovery?.stop();
      o.events.off('reading', onReading);
      o.events.off('failure', onFailure);
      o.events.off('plan', onPlan);
      o.events.off('reload', onReload);
    },
  };
}
