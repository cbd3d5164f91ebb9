import { EventEmitter } from 'node:events';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { atMost, settledWithin } from '../system/at-most.js';
import { errText, toError } from '../system/err-text.js';
import { MAX_TLS_FILE_BYTES, readSmallFile } from '../system/small-file.js';
import { topicMatches } from './topic-match.js';

/**
 * The one MQTT connection of the agent (MQTT.js). It never gives up on a broker:
 * a broker that is down at start or goes away later only delays delivery.
 *
 * While disconnected, MQTT.js keeps outgoing messages in memory (QoS 0 in its
 * queue, QoS 1/2 in its outgoing store) and sends them after the reconnect, so
 * a `publish()` promise stays pending until then. The agent's readings go through
 * the outbox (src/mqtt/outbox.ts), which publishes only while `connected` and a
 * bounded number at a time, so that store stays small.
 *
 * The session is persistent (3.1.1 clean=false, MQTT-3.1.2.4; MQTT 5 Session Expiry,
 * MQTT-3.1.2.11): on a reconnect MQTT.js resends the unacknowledged messages with
 * the same packet ids before it reports `connect` (then `up`), and the broker can
 * tell a resend from a new message, so QoS 2 stays exactly-once across reconnects.
 *
 * `protocol: auto` asks for MQTT 5 and falls back to 3.1.1, once and for the life of the
 * publisher, when the broker refuses 5 (see #refusedV5).
 */

/** A message the agent subscribed to (Home Assistant's birth message, retained discovery configs). */
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;

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

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const OFFLINE_WAIT_MS = 2_000;
const END_WAIT_MS = 3_000;
/** MQTT 5 session expiry: a week, the span the outbox is sized for. */
const SESSION_EXPIRY_S = 7 * 24 * 3600;
/** CONNACK refusals that mean "fix your credentials": 3.1.1 return codes 4/5 (MQTT-3.2.2.3), v5 reason codes 0x86/0x87. */
const AUTH_CODES: Readonly<Record<ProtocolLevel, ReadonlySet<number>>> = { 4: new Set([4, 5]), 5: new Set([134, 135]) };
/**
 * A broker's "I do not speak this version" to a v5 CONNECT: the 3.1.1 return code 1,
 * Unacceptable protocol version (MQTT-3.1.2-2; a 3.1.1 CONNACK parses under v5 with this
 * as its reason code), and the MQTT 5 reason code 0x84, Unsupported Protocol Version (MQTT-3.1.2-2, v5).
 */
const PROTOCOL_REFUSED = new Set([1, 0x84]);

/** The Protocol Level byte of CONNECT (MQTT-3.1.2.2): 4 is MQTT 3.1.1, 5 is MQTT 5. */
export type ProtocolLevel = 4 | 5;

export class MqttPublisher {
  readonly #o: MqttPublisherOptions;
  readonly #log: Logger;
  readonly #url: string;
  readonly #now: () => number;
  #client: MqttClient | undefined;
  #stopping: Promise<void> | undefined;
  #published = 0;
  #failed = 0;
  /** Callbacks of publishes not yet settled, so stop() can settle them. */
  readonly #pending = new Set<(err: Error | undefined) => void>();
  #everConnected = false;
  #up = false;
  #outageSince: number | undefined;
  #outageLogged = false;
  #authLogged = false;
  #lastError: Error | undefined;
  /** What the next CONNECT asks for. */
  #level: ProtocolLevel;
  /** `protocol: auto` and not fallen back yet. */
  #mayFallBack: boolean;
  /** A v5 CONNECT was accepted once: this broker speaks 5, so a later silent close is an outage, not a refusal. */
  #spoke5 = false;
  readonly #handlers = new Map<string, MessageHandler[]>();
  /** `up` after each CONNACK (once MQTT.js has resent its unacknowledged messages), `down` when the connection is lost. */
  readonly events = new EventEmitter<{ up: []; down: [] }>();

  constructor(options: MqttPublisherOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#url = redactUrl(options.url);
    this.#now = options.now ?? Date.now;
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

  /**
   * Receive messages on `filter` (QoS 1). Subscribed again after every reconnect: a new
   * or expired session has no subscriptions (MQTT-3.1.2-6); retained messages arrive again then too.
   * A handler that throws is logged and does not stop the others.
   */
  subscribe(filter: string, handler: MessageHandler): void {
    const list = this.#handlers.get(filter) ?? [];
    list.push(handler);
    this.#handlers.set(filter, list);
    const client = this.#client;
    if (client?.connected && list.length === 1) this.#subscribeOn(client, [filter]);
  }

  /** Forget every subscription (a new Home Assistant prefix on reload). */
  unsubscribeAll(): void {
    const filters = [...this.#handlers.keys()];
    this.#handlers.clear();
    if (filters.length > 0 && this.#client?.connected) this.#client.unsubscribe(filters);
  }

  #subscribeOn(client: MqttClient, filters: string[]): void {
    if (filters.length === 0) return;
    client.subscribe(filters, { qos: 1 }, (err) => {
      if (err && !this.#stopping) this.#log.warn({ filters, err: err.message }, 'subscribe failed');
    });
  }

  #dispatch(topic: string, payload: Buffer, retained: boolean): void {
    for (const [filter, handlers] of this.#handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) {
        try {
          handler(topic, payload, retained);
        } catch (err) {
          this.#log.error({ topic, err: errText(err) }, 'handling a received message failed');
        }
      }
    }
  }

  /** Connects in the background; resolves on the first CONNACK or after `startWaitMs`, whichever is first. */
  async start(): Promise<void> {
    if (this.#client || this.#stopping) throw new Error('MqttPublisher.start() called twice');
    const { mqtt, statusTopic } = this.#o;
    const password = await this.#password();
    const options: IClientOptions = {
      clientId: mqtt.client_id,
      clean: false,
      ...(this.#level === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      keepalive: Math.max(1, Math.round(mqtt.keepalive / 1000)),
      // Otherwise mqtt-packet pre-builds a 2-byte Buffer for each of the 65 536 packet ids
      // on the first publish: ~7 MB of heap kept for the life of the process, for no gain
      // we can measure (bench part c).
      writeCache: false,
      // Each packet sent or received would re-arm the keepalive timer (a timer object per
      // reading); a PINGREQ every keepalive interval while busy costs 2 bytes a minute instead.
      reschedulePings: false,
      // MQTT.js calls its debug logger ~20 times per publish, each call allocating its
      // arguments even when disabled; kept when DEBUG asks for it (DEBUG=mqttjs*).
      ...(/mqtt/.test(process.env['DEBUG'] ?? '') ? {} : { log: noLog }),
      protocolVersion: this.#level,
      reconnectPeriod: FIRST_RETRY_MS,
      // A refused CONNACK (bad password) is retried too: the broker's side may get fixed.
      reconnectOnConnackError: true,
      // subscribe() re-subscribes on every connect itself, once.
      resubscribe: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      rejectUnauthorized: mqtt.reject_unauthorized,
      will: { topic: statusTopic, payload: 'offline', qos: 1, retain: true },
      ...(mqtt.username === undefined ? {} : { username: mqtt.username }),
      ...(password === undefined ? {} : { password }),
      ...(await this.#tls()),
    };
    let connected!: () => void;
    const firstConnect = new Promise<void>((resolve) => (connected = resolve));
    const client = connect(this.#o.url, options);
    this.#client = client;
    client.on('connect', (connack) => {
      connected();
      this.#onConnect(client, connack.sessionPresent);
    });
    client.on('error', (err) => this.#onError(err));
    client.on('message', (topic, payload, packet) => this.#dispatch(topic, payload, packet.retain));
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
  send(topic: string, payload: string, opts: PublishOptions, done: (err: Error | undefined) => void): void {
    const client = this.#client;
    if (!client) return done(new Error('MqttPublisher.publish() before start()'));
    this.#sendOn(client, topic, payload, opts, (err) => {
      if (err) this.#failed++;
      else this.#published++;
      done(err);
    });
  }

  /** One publish that stop() can still settle if the broker never takes it. */
  #sendOn(client: MqttClient, topic: string, payload: string, opts: PublishOptions, done: (err: Error | undefined) => void): void {
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

  /** #sendOn as a promise (the status messages). */
  #send(client: MqttClient, topic: string, payload: string, opts: PublishOptions): Promise<void> {
    return new Promise((resolve, reject) => this.#sendOn(client, topic, payload, opts, (err) => (err ? reject(err) : resolve())));
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
      const sent = this.#send(client, this.#o.statusTopic, 'offline', { qos: 1, retain: true });
      const outcome = await settledWithin(sent, OFFLINE_WAIT_MS);
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
    const outageMs = this.#outageSince === undefined ? undefined : this.#now() - this.#outageSince;
    const msg = this.#everConnected ? 'reconnected' : 'connected';
    this.#log.info(
      { url: this.#url, clientId: this.#o.mqtt.client_id, protocol: this.#level, sessionPresent, ...(outageMs === undefined ? {} : { outageMs }) },
      msg,
    );
    if (this.#level === 5) this.#spoke5 = true;
    this.#everConnected = true;
    this.#up = true;
    this.#outageSince = undefined;
    this.#outageLogged = false;
    this.#authLogged = false;
    this.#lastError = undefined;
    this.#send(client, this.#o.statusTopic, 'online', { qos: 1, retain: true }).catch((err: unknown) => {
      if (!this.#stopping) this.#log.warn({ err: errText(err), topic: this.#o.statusTopic }, 'could not publish online status');
    });
    this.#subscribeOn(client, [...this.#handlers.keys()]);
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
    const level = this.#level;
    // Agreeing on a version is no outage: no warning about it, no outageMs on `connected`.
    if (this.#mayFallBack && this.#refusedV5(code, err, wasUp)) return this.#fallBack(client);
    this.#outageSince ??= this.#now();
    const nextRetryMs = client.options.reconnectPeriod ?? FIRST_RETRY_MS;
    // MQTT.js has already armed the next retry with the current period; double it for the one after.
    client.options.reconnectPeriod = Math.min(nextRetryMs * 2, MAX_RETRY_MS);
    const auth = typeof code === 'number' && AUTH_CODES[level].has(code);
    if (auth && !this.#authLogged) {
      this.#authLogged = this.#outageLogged = true;
      const reason = err?.message.replace(/^Connection refused: /, '');
      this.#log.error(
        { url: this.#url, username: this.#o.mqtt.username, reason, returnCode: code, nextRetryMs },
        `authentication failed: ${reason ?? 'refused'} (check mqtt.username and mqtt.password_file)`,
      );
    } else if (!this.#outageLogged) {
      this.#outageLogged = true;
      // `protocol: 5` set by hand and a broker that refuses it: say what would help.
      const hint = level === 5 && typeof code === 'number' && PROTOCOL_REFUSED.has(code) ? { hint: 'the broker does not speak MQTT 5: set mqtt.protocol: auto or 4' } : {};
      this.#log.warn(
        { url: this.#url, err: err?.message ?? 'connection closed by the broker', code, nextRetryMs, ...hint },
        wasUp ? 'connection lost' : 'connection failed',
      );
    } else {
      this.#log.debug({ err: err?.message, code, nextRetryMs }, 'retry failed');
    }
  }

  /**
   * Whether the connection that just closed was a v5 CONNECT the broker refused for its
   * version: a CONNACK with a PROTOCOL_REFUSED code (MQTT.js's handlers/connack.js emits it
   * as an ErrorWithReasonCode whose `code` is the reason code, then closes), or a close
   * with no CONNACK and no error at all, which is how some 3.1.1 brokers answer a level
   * they do not know. A refused TCP connection, a TLS failure or a CONNACK timeout each
   * come with an error, so they never count; nor does a silent close once 5 has worked here.
   */
  #refusedV5(code: string | number | undefined, err: Error | undefined, wasUp: boolean): boolean {
    if (this.#level !== 5) return false;
    if (typeof code === 'number') return PROTOCOL_REFUSED.has(code);
    return err === undefined && !wasUp && !this.#spoke5;
  }

  /**
   * From now on CONNECT says 3.1.1. MQTT.js reads `options.protocolVersion` afresh on each
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

  async #password(): Promise<string | undefined> {
    const { password, password_file: file } = this.#o.mqtt;
    if (file === undefined) return password;
    const text = await this.#read(file, 'mqtt.password_file');
    const trimmed = text.trim();
    if (trimmed === '') throw new Error(`mqtt.password_file ${file} is empty`);
    return trimmed;
  }

  async #tls(): Promise<Pick<IClientOptions, 'ca' | 'cert' | 'key'>> {
    const { ca_file, cert_file, key_file } = this.#o.mqtt;
    const files = { ca: ca_file, cert: cert_file, key: key_file };
    const given = Object.entries(files).filter((e): e is [string, string] => e[1] !== undefined);
    if (given.length === 0) return {};
    if (!/^(mqtts|ssl|wss|tls):/i.test(this.#o.url)) {
      this.#log.warn({ url: this.#url }, 'mqtt.ca_file/cert_file/key_file are ignored: the url is not mqtts://');
      return {};
    }
    const out: Record<string, string> = {};
    for (const [key, file] of given) out[key] = await this.#read(file, `mqtt.${key}_file`);
    return out;
  }

  async #read(file: string, what: string): Promise<string> {
    // Regular files only, of a size such files have (a CA bundle is ~200 kB): a FIFO would hang the connect.
    const read = this.#o.readFile ?? (async (p: string) => (await readSmallFile(p, MAX_TLS_FILE_BYTES)).text);
    try {
      return await read(file);
    } catch (err) {
      throw new Error(`cannot read ${what} ${file}: ${errText(err)}`, { cause: err });
    }
  }
}

/** The URL for logs: the password (if any was written into it) removed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

function noLog(): void {}

function errorCode(err: Error): string | number | undefined {
  const code: unknown = (err as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? code : undefined;
}

