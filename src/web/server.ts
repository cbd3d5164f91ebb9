import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { EpisodeLog } from '../system/episode-log.js';
import type { AccessControl } from './access.js';
import { AuthThrottle } from './auth-throttle.js';
import type { EventHub } from './events.js';
import type { Asset } from './static.js';
import { errText } from '../system/err-text.js';
import { urlHost } from '../system/url-host.js';

/**
 * The page's HTTP server (node:http). Read-only: GET and HEAD, nothing else, and
 * no route changes any state. Every response carries strict headers: a CSP that
 * allows only this origin's own files (no inline script, no external anything),
 * no framing, no sniffing, no referrer.
 */

/** The JSON side: each returns a body, or undefined for 404. */
export interface WebApi {
  sensors(): unknown;
  status(): unknown;
  history(sensor: string | undefined): unknown;
  /** What a page gets first on its event stream. */
  snapshot(): unknown;
}

export interface WebServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log: Logger;
  readonly access: AccessControl;
  readonly assets: ReadonlyMap<string, Asset>;
  readonly api: WebApi;
  readonly hub: EventHub;
  /** When the port is taken, take a free one instead of giving up (the demo). */
  readonly fallbackToFreePort?: boolean;
  /** Open connections at once, event streams included; more are closed as they come. @default WEB_LIMITS.connections */
  readonly maxConnections?: number;
  /** A connection that sends nothing (or not a whole request) for this long is closed. @default WEB_LIMITS.idleMs */
  readonly idleMs?: number;
}

/**
 * The page's share of the process: at most this many sockets (so the descriptors the buses,
 * the outbox and the broker link need are never the page's to take: 20 000 idle connections
 * once made every sensor read fail with EMFILE), each closed when idle, and a request's
 * headers due within a few seconds (slowloris).
 */
const GUESSING = 'web page: wrong passwords again and again from one address, answering it 429 for a while';

export const WEB_LIMITS = { connections: 64, idleMs: 10_000, headersMs: 5_000, requestMs: 10_000 } as const;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), serial=()',
};

export class WebServer {
  readonly #o: WebServerOptions;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #throttle = new AuthThrottle();
  readonly #episodes: EpisodeLog;
  #port: number | undefined;

  constructor(options: WebServerOptions) {
    this.#o = options;
    this.#episodes = new EpisodeLog({ log: options.log });
  }

  /** `http://host:port/` once listening (a wildcard host shown as loopback). */
  get url(): string | undefined {
    if (this.#port === undefined) return undefined;
    const h = this.#o.host === '0.0.0.0' ? '127.0.0.1' : this.#o.host === '::' ? '::1' : this.#o.host;
    return `http://${urlHost(h)}:${this.#port}/`;
  }

  /** Listens; on failure logs why and resolves false: the agent goes on without its page. */
  async start(): Promise<boolean> {
    const { host, port, log } = this.#o;
    const server = createServer({ headersTimeout: WEB_LIMITS.headersMs, requestTimeout: WEB_LIMITS.requestMs }, (req, res) => this.#handle(req, res));
    server.maxConnections = this.#o.maxConnections ?? WEB_LIMITS.connections;
    // Idle sockets (no request yet, or between keep-alive requests) are destroyed; an event stream turns this off for its own.
    server.setTimeout(this.#o.idleMs ?? WEB_LIMITS.idleMs);
    server.on('drop', (data) =>
      this.#episodes.report('web_connection_limit', `web page: more than ${server.maxConnections} connections at once, closing the new ones`, { limit: server.maxConnections, from: data?.remoteAddress }),
    );
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    let bound = await listen(server, host, port);
    if (bound !== true && bound.code === 'EADDRINUSE' && this.#o.fallbackToFreePort && port !== 0) {
      log.info({ host, port }, `web page: port ${port} is in use, taking a free port instead`);
      bound = await listen(server, host, 0);
    }
    if (bound !== true) {
      log.error({ host, port, code: bound.code, err: bound.message }, `web page not available: ${listenProblem(bound, host, port)}; the agent goes on publishing without it`);
      return false;
    }
    server.on('error', (err) => log.warn({ err: err.message }, 'web server error'));
    const address = server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    this.#server = server;
    log.info({ url: this.url, host, port: this.#port, password: this.#o.access.passwordRequired }, `web page at ${this.url}`);
    return true;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#o.hub.close();
    this.#episodes.flush();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.#route(req, res);
    } catch (err) {
      this.#o.log.error({ err: errText(err), url: req.url }, 'web request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'w1mqtt: the page is read-only (GET and HEAD only)\n', { Allow: 'GET, HEAD' });
      return;
    }
    const address = req.socket.remoteAddress ?? '';
    const waitMs = this.#o.access.passwordRequired ? this.#throttle.waitMs(address) : 0;
    if (waitMs > 0 && req.headers.authorization !== undefined) {
      // Not checked at all while it waits: that is what makes guessing slow.
      this.#episodes.report(`web_auth:${address}`, GUESSING, { kind: 'web_auth', address });
      send(res, 429, 'text/plain; charset=utf-8', 'w1mqtt: too many wrong passwords from your address; try again later\n', { 'Retry-After': String(Math.ceil(waitMs / 1000)) });
      return;
    }
    const decision = this.#o.access.check(req);
    if (decision.ok && this.#o.access.passwordRequired) this.#throttle.succeeded(address);
    if (!decision.ok && decision.guess) {
      const count = this.#throttle.failed(address);
      if (this.#throttle.waitMs(address) > 0) this.#episodes.report(`web_auth:${address}`, GUESSING, { kind: 'web_auth', address, wrong: count });
    }
    if (!decision.ok) {
      const extra: Record<string, string> = decision.status === 401 ? { 'WWW-Authenticate': 'Basic realm="w1mqtt", charset="UTF-8"' } : {};
      send(res, decision.status, 'text/plain; charset=utf-8', decision.message, extra);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { api, hub } = this.#o;
    switch (url.pathname) {
      case '/api/sensors':
        return json(res, 200, api.sensors());
      case '/api/status':
        return json(res, 200, api.status());
      case '/api/history': {
        const sensor = url.searchParams.get('sensor') ?? undefined;
        const body = api.history(sensor);
        return body === undefined ? json(res, 404, { error: `no sensor ${JSON.stringify(sensor)} (use either id notation: 28-0316a2792dff or 28.FF2D79A21603)` }) : json(res, 200, body);
      }
      case '/api/events':
        if (hub.full) return json(res, 503, { error: 'too many open pages' }, { 'Retry-After': '30' });
        if (req.method === 'HEAD') return send(res, 200, 'text/event-stream; charset=utf-8', '');
        return hub.add(res, SECURITY_HEADERS, { event: 'snapshot', data: api.snapshot() });
    }
    const asset = this.#o.assets.get(url.pathname);
    if (!asset) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.headers['if-none-match'] === asset.etag) return send(res, 304, asset.type, '', { ETag: asset.etag });
    // no-cache: revalidate every time (cheap with the ETag) so an upgrade shows at once.
    send(res, 200, asset.type, asset.body, { ETag: asset.etag, 'Cache-Control': 'no-cache' });
  }
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, { 'Cache-Control': 'no-store', ...extra });
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(res.req.method === 'HEAD' || status === 304 ? undefined : body);
}

function listen(server: Server, host: string, port: number): Promise<true | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => resolve(err);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(true);
    });
  });
}

function listenProblem(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use (another web server?): set web.port in sensors.yaml`;
    case 'EACCES':
      return `not allowed to listen on port ${port} (ports below 1024 need root): set web.port in sensors.yaml`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine: set web.host in sensors.yaml`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}
