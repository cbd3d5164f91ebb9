import { join } from 'node:path';
import type { BrokerChange } from '../config/diff.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
// A type only: the supervisor's code loads when a bundled broker is wanted, not with every agent.
import type { BundledBroker } from '../broker/supervisor.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { statusTopic } from '../mqtt/topics.js';
import { agentMqtt, replaceTransport } from './transport.js';

/**
 * The agent's way to the broker: the bundled broker when there is no mqtt.url, and
 * the MQTT client; made at start, replaced in-process by a live reload, stopped last.
 */
export class Connection {
  readonly #log: Logger;
  /** `<state_dir>/broker` holds the bundled broker's files. */
  readonly #dir: string;
  #Broker: typeof BundledBroker | undefined;
  broker: BundledBroker | undefined;
  publisher: MqttPublisher | undefined;

  constructor(log: Logger, stateDir: string) {
    this.#log = log;
    this.#dir = join(stateDir, 'broker');
  }

  /** The bundled broker (started) if `config` wants one, and a client not yet connected: start it once its outbox runs. */
  async open(config: Config): Promise<MqttPublisher> {
    let url = config.mqtt.url;
    if (url === undefined) {
      await this.#load();
      this.broker = this.#newBroker(config);
      // The client connects (and READY=1 goes out) only once mosquitto accepts.
      await this.broker.start();
      url = this.broker.url;
    }
    this.publisher = new MqttPublisher({ url, mqtt: agentMqtt(config, this.broker), statusTopic: statusTopic(config), log: this.#log.child({ module: 'mqtt' }) });
    return this.publisher;
  }

  /**
   * Move to the connection `next` asks for (transport.ts replaceTransport). Resolves with
   * the error when only the previous connection could be made again; rejects, with no
   * client left, when not even that could.
   */
  async replace(before: Config, next: Config, change: BrokerChange, retired: readonly string[]): Promise<Error | undefined> {
    const { publisher } = this;
    if (!publisher) throw new Error('no MQTT connection to replace');
    if (next.mqtt.url === undefined) await this.#load();
    const current = { broker: this.broker, publisher };
    const outcome = await replaceTransport(current, before, next, change, retired, this.#log, (c) => this.#newBroker(c)).catch((err: unknown) => {
      this.publisher = undefined;
      throw err;
    });
    this.broker = outcome.transport.broker;
    this.publisher = outcome.transport.publisher;
    return outcome.error;
  }

  /** Loaded only when used: an agent with an external broker never needs the supervisor's code. */
  async #load(): Promise<void> {
    this.#Broker ??= (await import('../broker/supervisor.js')).BundledBroker;
  }

  #newBroker(config: Config): BundledBroker {
    if (!this.#Broker) throw new Error('the bundled broker module is not loaded');
    return new this.#Broker({ settings: config.broker, dir: this.#dir, log: this.#log.child({ module: 'broker' }) });
  }
}
