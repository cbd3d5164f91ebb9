import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import { configSchema, type BrokerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { BrokerAuth, type AgentIdentity } from './broker-auth.js';
import { listenTcp, listenTls, listenWebSocket, type Listener } from './broker-listeners.js';
import { retainedCount, subscriptionCount } from './aedes-counts.js';
import { EpisodeLog } from './episode-log.js';
import { CONNECT, PUBLISH, type FrameViolation } from './frame-meter.js';
import { GuardedStream } from './guarded-stream.js';
import { emptyTraffic, SysTree } from './sys-tree.js';

/**
 * The bundled broker (aedes, in-memory persistence, so retained messages work
 * for as long as the agent runs). Used when sensors.yaml has no mqtt.url, so
 * `mosquitto_sub -h <pi> -t 'home/#' -v` works with nothing else installed.
 *
 * Every connection, on every listener, goes through a GuardedStream (packet size
 * limit, counters) and BrokerAuth (users, ACLs, the agent's own topics); hostile
 * clients are dropped and logged once per episode (EpisodeLog), never per event.
 */

export interface BundledBrokerOptions {
  readonly host: string;
  /** 0 picks a free port (tests); `address` tells which. */
  readonly port: number;
  readonly log: Logger;
  /** The rest of `broker:` (users, limits, listeners); the defaults when absent. */
  readonly settings?: BrokerConfig;
  /** The agent whose topics are protected and whose client id cannot be taken. */
  readonly agent?: AgentIdentity;
  /** `$SYS/broker/version` text. */
  readonly version?: string;
}

const CLOSE_WAIT_MS = 3_000;

export class BundledBroker {
  readonly #o: BundledBrokerOptions;
  #settings: BrokerConfig;
  readonly #episodes: EpisodeLog;
  readonly #auth: BrokerAuth;
  readonly #traffic = emptyTraffic();
  readonly #streams = new Set<GuardedStream>();
  readonly #agentStreams = new WeakSet<Duplex>();
  #aedes: Aedes | undefined;
  #listeners: Listener[] = [];
  #sys: SysTree | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: BundledBrokerOptions) {
    this.#o = options;
    this.#settings = options.settings ?? configSchema.parse({}).broker;
    this.#episodes = new EpisodeLog({ log: options.log });
    this.#auth = new BrokerAuth({
      settings: () => this.#settings,
      agent: options.agent,
      episodes: this.#episodes,
      onAgent: (client) => this.#agentStreams.add(client.conn as Duplex),
    });
  }

  /** The in-memory credential the agent's own client must connect with. */
  get agentCredential(): { readonly username: string; readonly password: string } {
    return this.#auth.credential;
  }

  /** Where the plain MQTT listener listens (the real port after `start()`, so port 0 works). */
  get address(): { host: string; port: number } {
    const tcp = this.#listeners.find((l) => l.kind === 'mqtt');
    return tcp ? { host: tcp.host, port: tcp.port } : { host: this.#o.host, port: this.#o.port };
  }

  /** Every listener, for logs and tests. */
  get listeners(): readonly { kind: string; host: string; port: number }[] {
    return this.#listeners.map(({ kind, host, port }) => ({ kind, host, port }));
  }

  /** What a client on this machine connects to: a wildcard address becomes loopback, IPv6 gets brackets. */
  get url(): string {
    const { host, port } = this.address;
    const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    return `mqtt://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  }

  async start(): Promise<void> {
    if (this.#aedes || this.#stopping) throw new Error('BundledBroker.start() called twice');
    const { host, port, log } = this.#o;
    const s = this.#settings;
    const aedes = await Aedes.createBroker({
      connectTimeout: s.connect_timeout,
      drainTimeout: s.slow_subscriber_timeout,
      authenticate: this.#auth.authenticate,
      authorizePublish: this.#auth.authorizePublish,
      authorizeSubscribe: this.#auth.authorizeSubscribe,
      authorizeForward: this.#auth.authorizeForward,
    });
    this.#aedes = aedes;
    aedes.on('client', (client) => log.debug({ clientId: client.id }, 'client connected'));
    aedes.on('clientDisconnect', (client) => log.debug({ clientId: client.id }, 'client disconnected'));
    aedes.on('clientError', (client, err) => this.#clientError(client, err));
    aedes.on('connectionError', (client, err) => this.#clientError(client, err));
    aedes.on('keepaliveTimeout', (client) => this.#episodes.report('keepalive_timeout', 'client dropped: keepalive timeout', { clientId: client.id }));

    const accept = (stream: Duplex, remote: string | undefined): void => this.#accept(aedes, stream, remote);
    try {
      this.#listeners.push(await listenTcp(host, port, accept));
      if (s.tls) this.#listeners.push(await listenTls(s.tls.host ?? host, s.tls.port, s.tls, accept));
      if (s.websocket) this.#listeners.push(await listenWebSocket(s.websocket.host ?? host, s.websocket.port, accept));
    } catch (err) {
      await Promise.all(this.#listeners.map((l) => l.close()));
      this.#listeners = [];
      this.#aedes = undefined;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw err;
    }
    this.#sys = new SysTree({
      source: {
        traffic: this.#traffic,
        clientsConnected: () => aedes.connectedClients,
        subscriptionCount: () => subscriptionCount(aedes),
        retainedCount: () => retainedCount(aedes),
      },
      publish: (topic, payload) => aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false }, () => undefined),
      intervalMs: s.sys_interval,
      version: `w1mqtt version ${this.#o.version ?? 'unknown'} (aedes ${(aedes as unknown as { version: string }).version})`,
    });
    this.#sys.start();
    for (const l of this.#listeners) log.info({ url: l.kind === 'mqtt' ? this.url : `${l.kind}://${l.host}:${l.port}`, host: l.host, port: l.port, listener: l.kind }, 'bundled broker listening');
  }

  #accept(aedes: Aedes, raw: Duplex, remote: string | undefined): void {
    this.#traffic.sockets++;
    let guests = 0;
    for (const stream of this.#streams) if (!this.#agentStreams.has(stream)) guests++;
    if (guests >= this.#settings.max_connections || this.#stopping) {
      this.#episodes.report('connection_limit', 'connection refused: broker.max_connections reached', { max: this.#settings.max_connections, remote });
      raw.destroy();
      return;
    }
    const traffic = this.#traffic;
    const stream = new GuardedStream(
      raw,
      {
        maxPacketSize: this.#settings.max_packet_size,
        onReceived: (type, size) => {
          traffic.messagesReceived++;
          traffic.bytesReceived += size;
          if (type === PUBLISH) traffic.publishReceived++;
          else if (type === CONNECT) traffic.connections++;
        },
        onSent: (type, size) => {
          traffic.messagesSent++;
          traffic.bytesSent += size;
          if (type === PUBLISH) traffic.publishSent++;
        },
        onViolation: (v) => this.#violation(v, remote),
      },
      remote,
    );
    this.#streams.add(stream);
    stream.on('close', () => this.#streams.delete(stream));
    aedes.handle(stream);
  }

  #violation(v: FrameViolation, remote: string | undefined): void {
    if (v.kind === 'oversized') this.#episodes.report('oversized_packet', 'client dropped: packet larger than broker.max_packet_size', { size: v.size, max: v.max, remote });
    else this.#episodes.report('malformed_packet', 'client dropped: malformed packet', { reason: v.reason, remote });
  }

  /** One client's problem, never the broker's: classified, and each kind logged once per episode. */
  #clientError(client: Client, err: Error): void {
    if ((err as { logged?: unknown }).logged === true) return; // BrokerAuth said it already
    const code = (err as NodeJS.ErrnoException).code;
    const remote = (client.conn as { remoteAddress?: string }).remoteAddress;
    // A subscriber that just goes away (mosquitto_sub -W, Ctrl-C) shows up as EPIPE/ECONNRESET: not worth a warning.
    if (code === 'EPIPE' || code === 'ECONNRESET' || err.message === 'connection closed') {
      this.#o.log.debug({ clientId: client.id, err: err.message }, 'client error');
    } else if (err.message === 'connect did not arrive in time') {
      this.#episodes.report('connect_timeout', 'connection dropped: no CONNECT within broker.connect_timeout', { timeoutMs: this.#settings.connect_timeout, remote });
    } else if (err.message === 'drain timeout') {
      this.#episodes.report('slow_subscriber', 'client dropped: it stopped reading (broker.slow_subscriber_timeout)', { clientId: client.id, timeoutMs: this.#settings.slow_subscriber_timeout, remote });
    } else if (client.id) {
      this.#episodes.report('client_error', 'client dropped after a protocol error', { clientId: client.id, err: err.message, remote });
    } else {
      this.#episodes.report('malformed_packet', 'client dropped: malformed packet', { reason: err.message, remote });
    }
  }

  /**
   * A live reload of `broker:`: users, ACLs, anonymous access, limits, timeouts and the
   * $SYS interval apply to what happens next; open connections are not dropped. The
   * TLS and WebSocket listeners are only read at start.
   */
  applySettings(settings: BrokerConfig): void {
    const before = this.#settings;
    this.#settings = settings;
    const aedes = this.#aedes as unknown as { connectTimeout: number; opts: { drainTimeout: number } } | undefined;
    if (aedes) {
      aedes.connectTimeout = settings.connect_timeout;
      aedes.opts.drainTimeout = settings.slow_subscriber_timeout;
    }
    if (before.sys_interval !== settings.sys_interval) this.#sys?.reschedule(settings.sys_interval);
  }

  /**
   * Listen on another address (a live reload of broker.host/port), keeping the broker
   * itself and so its retained messages. The new address is bound before the old one
   * is closed; on the same port that cannot work, so the old listener goes first and
   * comes back if the new address fails. Throws (with the old listener still open) when
   * the new address cannot be bound. The TLS and WebSocket listeners stay where they are.
   */
  async rebind(host: string, port: number): Promise<void> {
    const aedes = this.#aedes;
    const old = this.#listeners.find((l) => l.kind === 'mqtt');
    if (!aedes || !old || this.#stopping) throw new Error('BundledBroker.rebind() outside start()/stop()');
    if (host === old.host && port === old.port) return;
    const accept = (stream: Duplex, remote: string | undefined): void => this.#accept(aedes, stream, remote);
    const samePort = port !== 0 && port === old.port;
    if (samePort) await bounded(old.close(), CLOSE_WAIT_MS);
    let next: Listener;
    try {
      next = await listenTcp(host, port, accept);
    } catch (err) {
      if (samePort) this.#listeners = [await listenTcp(old.host, old.port, accept), ...this.#listeners.filter((l) => l !== old)];
      throw err;
    }
    if (!samePort) await bounded(old.close(), CLOSE_WAIT_MS);
    this.#listeners = [next, ...this.#listeners.filter((l) => l !== old)];
    this.#o.log.info({ url: this.url, from: `${old.host}:${old.port}` }, 'bundled broker moved');
  }

  /** Idempotent; closes the listeners, drops open client sockets and closes aedes, within ~3 s. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const aedes = this.#aedes;
    this.#sys?.stop();
    if (this.#listeners.length > 0) await bounded(Promise.all(this.#listeners.map((l) => l.close())).then(() => undefined), CLOSE_WAIT_MS);
    for (const stream of this.#streams) stream.destroy();
    if (aedes) await bounded(new Promise<void>((resolve) => aedes.close(() => resolve())), CLOSE_WAIT_MS);
    this.#episodes.flush();
    if (aedes) this.#o.log.info({ url: this.url }, 'bundled broker stopped');
  }
}

async function bounded(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
