import { EventEmitter } from 'node:events';
import { connect, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { atMost, settledWithin } from '../system/at-most.js';
import { errText, toError } from '../system/err-text.js';
import { redactUrl } from '../system/redact-url.js';
import { errorCode, refusedV5, type ProtocolLevel } from './connack.js';
import { clientOptions, FIRST_RETRY_MS, MAX_RETRY_MS } from './connect-options.js';
import { readCredentials } from './credentials.js';
import { OutageLog } from './outage-log.js';
import { OFFLINE, ONLINE, STATUS_OPTIONS } from './status.js';
import { Subscriptions, type MessageHandler } from './subscriptions.js';

export type { ProtocolLevel } from './connack.js';
export type { MessageHandler } from './subscriptions.js';

/**
 * The one MQTT connection of the agent (MQTT.js). It never gives up on a broker:
 * a broker that is down at start or goes away later only delays delivery.
 *
 * While disconnected, MQTT.js keeps outgoing messages in memory (QoS 0 in its
 * queue, QoS 1/2 in its outgoing store) and sends them after the reconnect, so
 * a `publish()` promise stays pending until then. The agent's readings go through
 * the outbox (src/outbox/outbox.ts), which publishes only while `connected` and a
 * bounded number at a time, so that store stays small.
 *
 * The session is persistent (connect-options.ts): MQTT.js resends the unacknowledged
 * messages before it reports `connect`, so `up` comes after them.
 *
 * `protocol: auto` asks for MQTT 5 and falls back to 3.1.1, once and for the life of the
 * publisher, when the broker refuses 5 (connack.ts, refusedV5).
 */

export interface PublishOptions {
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

export interface MqttPublisherOptions {
  /** config.mqtt.url, or the bundled broker's `mqtt://host:port`. */
  readonly url: string;
  readonly mqtt: MqttConfig;
  readonly statusTopic: string;
  readonly log: Logger;
  readonly readFile?: (path: string) => Promise<string>;
  /** How long `start()` waits for the first connection before it returns anyway. @default 5000 */
  readonly startWaitMs?: number;
  readonly now?: () => number;
}

const OFFLINE_WAIT_MS = 2_000;
const END_WAIT_MS = 3_000;

type Done = (err: Error | undefined) => void;

export class MqttPublisher {
  readonly #o: MqttPublisherOptions;
  readonly #log: Logger;
  readonly #url: string;
  readonly #outages: OutageLog;
  readonly #subscriptions: Subscriptions;
  #client: MqttClient | undefined;
  #stopping: Promise<void> | undefined;
  #published = 0;
  #failed = 0;
  /** Callbacks of publishes not yet settled, so stop() can settle them. */
  readonly #pending = new Set<Done>();
  #up = false;
  #lastError: Error | undefined;
  /** What the next CONNECT asks for. */
  #level: ProtocolLevel;
  /** `protocol: auto` and not fallen back yet. */
  #mayFallBack: boolean;
  /** A v5 CONNECT was accepted once: this broker speaks 5, so a later silent close is an outage, not a refusal. */
  #spoke5 = false;
  /** `up` after each CONNACK (once MQTT.js has resent its unacknowledged messages), `down` when the connection is lost. */
  readonly events = new EventEmitter<{ up: []; down: [] }>();

  constructor(options: MqttPublisherOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#url = redactUrl(options.url);
    this.#outages = new OutageLog(options.log, this.#url, options.mqtt.username, options.now ?? Date.now);
    this.#subscriptions = new Subscriptions(options.log);
    const { protocol } = options.mqtt;
    this.#level = protocol === 'auto' ? 5 : protocol;
    this.#mayFallBack = protocol === 'auto';
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** The MQTT version of the live connection (5, or 4 for 3.1.1); undefined while not connected. */
  get protocolVersion(): ProtocolLevel | undefined {
    return this.#client?.connected ? this.#level : undefined;
  }

  /** MQTT 5 Receive Maximum from the broker's CONNACK (MQTT-3.2.2.3.3): how many QoS 1/2 publishes may be unacknowledged. */
  get receiveMaximum(): number | undefined {
    return this.#client?.connected ? this.#client.serverProperties?.receiveMaximum : undefined;
  }

  get counters(): { readonly published: number; readonly failed: number } {
    return { published: this.#published, failed: this.#failed };
  }

  /** Publishes handed over and not yet acknowledged (or written, at QoS 0): what waits while the broker is away. */
  get queued(): number {
    return this.#pending.size;
  }

  /** Receive messages on `filter` (QoS 1), again after every reconnect (subscriptions.ts). */
  subscribe(filter: string, handler: MessageHandler): void {
    const client = this.#client;
    if (this.#subscriptions.add(filter, handler) && client?.connected) this.#subscribeOn(client, [filter]);
  }

  /** Forget every subscription (a new Home Assistant prefix on reload). */
  unsubscribeAll(): void {
    const filters = this.#subscriptions.clear();
    if (filters.length > 0 && this.#client?.connected) this.#client.unsubscribe(filters);
  }

  #subscribeOn(client: MqttClient, filters: string[]): void {
    if (filters.length === 0) return;
    client.subscribe(filters, { qos: 1 }, (err) => {
      if (err && !this.#stopping) this.#log.warn({ filters, err: err.message }, 'subscribe failed');
    });
  }

  /** Connects in the background; resolves on the first CONNACK or after `startWaitMs`, whichever is first. */
  async start(): Promise<void> {
    if (this.#client || this.#stopping) throw new Error('MqttPublisher.start() called twice');
    const { url, mqtt, statusTopic, log, readFile } = this.#o;
    const credentials = await readCredentials({ url, mqtt, shownUrl: this.#url, log, readFile });
    let connected!: () => void;
    const firstConnect = new Promise<void>((resolve) => (connected = resolve));
    const client = connect(url, clientOptions(mqtt, this.#level, statusTopic, credentials));
    this.#client = client;
    client.on('connect', (connack) => {
      connected();
      this.#onConnect(client, connack.sessionPresent);
    });
    client.on('error', (err) => this.#onError(err));
    client.on('message', (topic, payload, packet) => this.#subscriptions.dispatch(topic, payload, packet.retain));
    client.on('reconnect', () => (this.#lastError = undefined));
    client.on('close', () => this.#onClose(client));
    await atMost(firstConnect, this.#o.startWaitMs ?? 5_000);
  }

  /**
   * Resolves when the broker acknowledged (QoS 1/2) or the packet was written (QoS 0).
   * While disconnected the message waits in MQTT.js's memory queue (see the file comment).
   */
  publish(topic: string, payload: string, opts: PublishOptions): Promise<void> {
    return new Promise((resolve, reject) => this.send(topic, payload, opts, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * publish() with a callback, called once: undefined when acknowledged (QoS 1/2) or written
   * (QoS 0), an error when refused or when stop() gives up on it. The outbox sends every
   * reading this way: no promise per message.
   */
  send(topic: string, payload: string, opts: PublishOptions, done: Done): void {
    const client = this.#client;
    if (!client) return done(new Error('MqttPublisher.publish() before start()'));
    this.#sendOn(client, topic, payload, opts, (err) => {
      if (err) this.#failed++;
      else this.#published++;
      done(err);
    });
  }

  /** One publish that stop() can still settle if the broker never takes it. */
  #sendOn(client: MqttClient, topic: string, payload: string, opts: PublishOptions, done: Done): void {
    this.#pending.add(done);
    try {
      // MQTT.js passes null, not undefined, on success.
      client.publish(topic, payload, opts, (err) => {
        if (this.#pending.delete(done)) done(err ?? undefined);
      });
    } catch (err) {
      if (this.#pending.delete(done)) done(toError(err));
    }
  }

  /** The agent's status (status.ts), as a promise. */
  #sendStatus(client: MqttClient, payload: string): Promise<void> {
    return new Promise((resolve, reject) => this.#sendOn(client, this.#o.statusTopic, payload, STATUS_OPTIONS, (err) => (err ? reject(err) : resolve())));
  }

  /** Idempotent. Publishes `offline` if it can (≤ 2 s), then disconnects cleanly (≤ 3 s) or drops the socket. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    if (client.connected) {
      // A clean DISCONNECT discards the Last Will (MQTT-3.14.4-3), so say `offline` ourselves.
      const outcome = await settledWithin(this.#sendStatus(client, OFFLINE), OFFLINE_WAIT_MS);
      if (outcome !== 'done') this.#log.warn({ url: this.#url, outcome }, 'could not publish offline status before disconnecting');
    }
    // Not connected: nothing can be flushed, so end at once instead of waiting for acks.
    const ended = await settledWithin(client.endAsync(!client.connected), END_WAIT_MS);
    if (ended !== 'done') {
      client.end(true);
      client.stream?.destroy();
    }
    const lost = this.#pending.size;
    for (const done of [...this.#pending]) {
      this.#pending.delete(done);
      done(new Error('publisher stopped before the broker took the message'));
    }
    this.#log.info({ url: this.#url, ...this.counters, ...(lost ? { discarded: lost } : {}) }, 'disconnected');
  }

  #onConnect(client: MqttClient, sessionPresent: boolean): void {
    client.options.reconnectPeriod = FIRST_RETRY_MS;
    this.#outages.connected(this.#o.mqtt.client_id, this.#level, sessionPresent);
    if (this.#level === 5) this.#spoke5 = true;
    this.#up = true;
    this.#lastError = undefined;
    this.#sendStatus(client, ONLINE).catch((err: unknown) => {
      if (!this.#stopping) this.#log.warn({ err: errText(err), topic: this.#o.statusTopic }, 'could not publish online status');
    });
    this.#subscribeOn(client, this.#subscriptions.filters());
    this.events.emit('up');
  }

  #onError(err: Error): void {
    // MQTT.js follows every connection failure with 'close'; #onClose reports it once per outage.
    this.#lastError = err;
    this.#log.trace({ err: err.message, code: errorCode(err) }, 'mqtt client error');
  }

  #onClose(client: MqttClient): void {
    if (this.#stopping) return;
    const wasUp = this.#up;
    this.#up = false;
    if (wasUp) this.events.emit('down');
    const err = this.#lastError;
    this.#lastError = undefined;
    const code = err === undefined ? undefined : errorCode(err);
    // Agreeing on a version is no outage: no warning about it, no outageMs on `connected`.
    if (this.#mayFallBack && refusedV5(this.#level, code, err, wasUp, this.#spoke5)) return this.#fallBack(client);
    const nextRetryMs = client.options.reconnectPeriod ?? FIRST_RETRY_MS;
    // MQTT.js has already armed the next retry with the current period; double it for the one after.
    client.options.reconnectPeriod = Math.min(nextRetryMs * 2, MAX_RETRY_MS);
    this.#outages.closed(err, code, this.#level, wasUp, nextRetryMs);
  }

  /**
   * CONNECT says 3.1.1 from here on. MQTT.js reads `options.protocolVersion` afresh on each
   * connect (client.js builds the CONNECT packet and a new parser from it), and 3.1.1 has
   * no properties, so the MQTT 5 session expiry goes; 3.1.1's clean=false session stays.
   * The retry MQTT.js has already armed then connects with 4; not an outage, so no backoff.
   */
  #fallBack(client: MqttClient): void {
    this.#mayFallBack = false;
    this.#level = 4;
    client.options.protocolVersion = 4;
    delete client.options.properties;
    client.options.reconnectPeriod = FIRST_RETRY_MS;
    this.#log.warn({ url: this.#url }, 'broker does not speak MQTT 5: using MQTT 3.1.1');
  }
}
