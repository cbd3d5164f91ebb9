import type { BrokerChange } from '../config/diff.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
// A type only: the supervisor loads when a bundled broker is wanted (agent.ts), not with every agent.
import type { BundledBroker } from '../broker/supervisor.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { statusTopic } from '../mqtt/topics.js';
import { atMost } from '../system/at-most.js';
import { toError } from '../system/err-text.js';

/**
 * The publish path of a running agent (the bundled broker when there is no
 * mqtt.url, and the MQTT client), and how a live reload replaces it in-process.
 */
export interface Transport {
  readonly broker: BundledBroker | undefined;
  readonly publisher: MqttPublisher;
}

const CLEAR_WAIT_MS = 3_000;

/**
 * Move to the connection `after` asks for. `retired` topics live on the old broker,
 * so they are cleared before leaving it. Never leaves the agent without a publisher:
 * if the new connection cannot be made (a missing password file, a taken port), the
 * running config's connection is made again and the error is returned with it.
 */
export async function replaceTransport(
  current: Transport,
  before: Config,
  after: Config,
  change: BrokerChange,
  retired: readonly string[],
  log: Logger,
  newBroker: (config: Config) => BundledBroker,
): Promise<{ transport: Transport; error?: Error }> {
  await clearRetained(current.publisher, retired, log);
  // One connection per client id (MQTT-3.1.4-2: the broker drops the older one), so the old client goes first.
  await current.publisher.stop();
  let started: BundledBroker | undefined;
  try {
    let broker = current.broker;
    if (change === 'start') {
      started = newBroker(after);
      await started.start();
      broker = started;
    }
    const publisher = await startPublisher(after, broker, log);
    if (change === 'stop') {
      await current.broker?.stop();
      broker = undefined;
    }
    const oldStatus = statusTopic(before);
    if (oldStatus !== statusTopic(after) && change === 'keep' && before.mqtt.url === after.mqtt.url) {
      // Same broker, new client id or base_topic: the old status topic would say `offline` forever.
      await clearRetained(publisher, [oldStatus], log);
    }
    return { transport: { broker, publisher } };
  } catch (err) {
    const error = toError(err);
    await started?.stop();
    const publisher = await startPublisher(before, current.broker, log);
    return { transport: { broker: current.broker, publisher }, error };
  }
}

async function startPublisher(config: Config, broker: BundledBroker | undefined, log: Logger): Promise<MqttPublisher> {
  const url = config.mqtt.url ?? broker?.url;
  if (url === undefined) throw new Error('no broker: mqtt.url is not set and the bundled broker is not running');
  const publisher = new MqttPublisher({ url, mqtt: agentMqtt(config, broker), statusTopic: statusTopic(config), log: log.child({ module: 'mqtt' }) });
  await publisher.start();
  return publisher;
}

/** Empty retained messages: the broker drops the retained value (MQTT 3.1.1 §3.3.1.3). Bounded, never throws. */
export async function clearRetained(publisher: MqttPublisher | undefined, topics: readonly string[], log: Logger): Promise<void> {
  if (topics.length === 0 || !publisher) return;
  if (!publisher.connected) {
    log.warn({ topics }, 'cannot clear the retained values of remapped sensors: not connected to the broker');
    return;
  }
  const sent = Promise.allSettled(topics.map((topic) => publisher.publish(topic, '', { qos: 1, retain: true })));
  const outcome = await atMost(sent, CLEAR_WAIT_MS);
  const failed = outcome === 'timeout' ? topics.length : outcome.filter((r) => r.status === 'rejected').length;
  if (failed > 0) log.warn({ topics, failed }, 'could not clear every retained value of remapped sensors');
  else log.info({ topics }, 'cleared retained values of remapped or removed sensors');
}

/** The agent's MQTT settings; on its own bundled broker it needs no credential (its socket is private to the service user). */
export function agentMqtt(config: Config, broker: BundledBroker | undefined): Config['mqtt'] {
  if (!broker || config.mqtt.url !== undefined) return config.mqtt;
  const { password_file: _file, username: _user, password: _password, ...rest } = config.mqtt;
  return rest;
}
