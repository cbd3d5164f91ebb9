import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../log.js';

/**
 * The bundled broker (aedes, in-memory persistence, so retained messages work
 * for as long as the agent runs). Used when sensors.yaml has no mqtt.url, so
 * `mosquitto_sub -h <pi> -t 'home/#' -v` works with nothing else installed.
 */

export interface BundledBrokerOptions {
  readonly host: string;
  /** 0 picks a free port (tests); `address` tells which. */
  readonly port: number;
  readonly log: Logger;
}

const CLOSE_WAIT_MS = 3_000;

export class BundledBroker {
  readonly #o: BundledBrokerOptions;
  #aedes: Aedes | undefined;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #address: { host: string; port: number } | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: BundledBrokerOptions) {
    this.#o = options;
  }

  /** Where it listens (the real port after `start()`, so port 0 works). */
  get address(): { host: string; port: number } {
    return this.#address ?? { host: this.#o.host, port: this.#o.port };
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
    const aedes = await Aedes.createBroker();
    this.#aedes = aedes;
    aedes.on('client', (client) => log.debug({ clientId: client.id }, 'client connected'));
    aedes.on('clientDisconnect', (client) => log.debug({ clientId: client.id }, 'client disconnected'));
    // Malformed packets, dropped sockets, keepalive timeouts: one client's problem, never the broker's.
    // A subscriber that just goes away (mosquitto_sub -W, Ctrl-C) shows up as EPIPE/ECONNRESET: not worth a warning.
    aedes.on('clientError', (client, err) => {
      const code = (err as NodeJS.ErrnoException).code;
      const level = code === 'EPIPE' || code === 'ECONNRESET' ? 'debug' : 'warn';
      log[level]({ clientId: client.id, err: err.message }, 'client error');
    });
    aedes.on('connectionError', (client, err) => log.warn({ clientId: client.id, err: err.message }, 'connection error'));
    aedes.on('keepaliveTimeout', (client) => log.warn({ clientId: client.id }, 'client keepalive timeout'));

    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      aedes.handle(socket);
    });
    this.#server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#server = undefined;
      this.#aedes = undefined;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      throw listenError(err, host, port);
    }
    server.on('error', (err) => log.warn({ err: err.message }, 'broker server error'));
    const bound = server.address();
    this.#address = typeof bound === 'object' && bound !== null ? { host, port: bound.port } : { host, port };
    log.info({ url: this.url, host, port: this.#address.port }, 'bundled broker listening');
  }

  /**
   * Listen on another address (a live reload of broker.host/port), keeping the broker
   * itself and so its retained messages. The new address is bound before the old one
   * is closed; on the same port that cannot work, so the old listener goes first and
   * comes back if the new address fails. Throws (with the old listener still open) when
   * the new address cannot be bound.
   */
  async rebind(host: string, port: number): Promise<void> {
    const aedes = this.#aedes;
    const old = this.#server;
    const before = this.#address;
    if (!aedes || !old || !before || this.#stopping) throw new Error('BundledBroker.rebind() outside start()/stop()');
    if (host === before.host && port === before.port) return;
    const clients = [...this.#sockets];
    const samePort = port !== 0 && port === before.port;
    if (samePort) await closeServer(old, clients);
    let server: Server;
    try {
      server = await listenOn(aedes, this.#sockets, host, port);
    } catch (err) {
      if (samePort) this.#server = await listenOn(aedes, this.#sockets, before.host, before.port);
      throw listenError(err, host, port);
    }
    if (!samePort) await closeServer(old, clients);
    server.on('error', (err) => this.#o.log.warn({ err: err.message }, 'broker server error'));
    this.#server = server;
    const bound = server.address();
    this.#address = { host, port: typeof bound === 'object' && bound !== null ? bound.port : port };
    this.#o.log.info({ url: this.url, from: `${before.host}:${before.port}` }, 'bundled broker moved');
  }

  /** Idempotent; closes the listener, drops open client sockets and closes aedes, within ~3 s. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const server = this.#server;
    const aedes = this.#aedes;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() waits for every open connection; clients reconnect forever, so end them.
      for (const socket of this.#sockets) socket.destroy();
      await bounded(closed, CLOSE_WAIT_MS);
    }
    if (aedes) await bounded(new Promise<void>((resolve) => aedes.close(() => resolve())), CLOSE_WAIT_MS);
    if (server || aedes) this.#o.log.info({ url: this.url }, 'bundled broker stopped');
  }
}

/** A listener for `aedes` on host:port; resolves once bound. */
async function listenOn(aedes: Aedes, sockets: Set<Socket>, host: string, port: number): Promise<Server> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stop accepting and drop the clients of a listener (they reconnect forever otherwise). */
async function closeServer(server: Server, clients: readonly Socket[]): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const socket of clients) socket.destroy();
  await bounded(closed, CLOSE_WAIT_MS);
}

function listenError(err: unknown, host: string, port: number): Error {
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE') {
    return new Error(
      `port ${port} on ${host} is already in use (another MQTT broker such as mosquitto?): ` +
        'set broker.port in sensors.yaml or use mqtt.url to publish to that broker instead',
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new Error(`not allowed to listen on port ${port} on ${host} (ports below 1024 need root): set broker.port in sensors.yaml`, { cause: err });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new Error(`${host} is not an address of this machine: set broker.host in sensors.yaml`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`bundled broker cannot listen on ${host}:${port}: ${message}`, { cause: err });
}

async function bounded(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
