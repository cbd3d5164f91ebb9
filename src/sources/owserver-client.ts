import { connect, type Socket } from 'node:net';
import { encodeRequest, FLAG, ProtocolError, ResponseDecoder, type Request, type Response } from './owserver-protocol.js';
import { urlHost } from '../system/url-host.js';

export interface OwserverClientOptions {
  readonly host: string;
  readonly port: number;
  /** Connect plus a complete answer must take no longer (pings do not extend it). */
  readonly timeoutMs: number;
  /** First wait after a failed connect; doubles up to maxBackoffMs. @default 500 */
  readonly backoffMs?: number;
  /** @default 15 000 */
  readonly maxBackoffMs?: number;
  /**
   * Close the connection after this long without a request. owserver on SIGTERM
   * keeps serving a persistent client and exits only once it hangs up, so holding the
   * connection between polls would stall `systemctl stop owserver`. @default 2000
   */
  readonly idleMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A failed exchange. `code` is errno-like: ECONNREFUSED, ETIMEDOUT, ECONNRESET, EPROTO, … */
export class OwserverError extends Error {
  override readonly name = 'OwserverError';
  readonly code: string;
  /** The connection closed before any byte of the answer: an idempotent request may be sent again. */
  readonly beforeAnswer: boolean;
  constructor(code: string, message: string, beforeAnswer = false) {
    super(message);
    this.code = code;
    this.beforeAnswer = beforeAnswer;
  }
}

interface Pending {
  readonly resolve: (response: Response) => void;
  readonly reject: (err: Error) => void;
  received: boolean;
}

/**
 * One persistent connection to owserver, one request at a time (the protocol has
 * no request ids, so answers are matched by order). The connection is kept while
 * the server grants PERSISTENT and re-opened when it is gone. After a failed
 * connect the next attempt waits (0.5 s doubling to 15 s) and requests fail at once
 * with the same error meanwhile, so a dead server costs no connect storm.
 */
export class OwserverClient {
  readonly #opts: OwserverClientOptions;
  readonly #now: () => number;
  #socket: Socket | undefined;
  #decoder = new ResponseDecoder();
  #pending: Pending | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #retryAt = 0;
  #backoff = 0;
  #lastConnectError: OwserverError | undefined;
  #closed = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(options: OwserverClientOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
  }

  /** `host:port`, `[::1]:4304` for an IPv6 address. */
  get address(): string {
    const { host, port } = this.#opts;
    return `${urlHost(host)}:${port}`;
  }

  /** Send one request (PERSISTENT is added) and resolve with its answer, ret < 0 included. */
  request(request: Request): Promise<Response> {
    const run = this.#tail.then(() => this.#exchange({ ...request, flags: request.flags | FLAG.persistent }));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Drop the connection; pending and later requests fail. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#drop(new OwserverError('ECANCELED', `connection to owserver ${this.address} closed`));
  }

  async #exchange(request: Request): Promise<Response> {
    const deadline = this.#now() + this.#opts.timeoutMs;
    const reused = this.#socket !== undefined;
    try {
      return await this.#attempt(request, deadline);
    } catch (err) {
      // The server may have closed an idle persistent connection just as we wrote:
      // the request never reached it, so one retry on a fresh connection is safe.
      if (reused && err instanceof OwserverError && err.beforeAnswer && !this.#closed && this.#now() < deadline) {
        return this.#attempt(request, deadline);
      }
      throw err;
    }
  }

  async #attempt(request: Request, deadline: number): Promise<Response> {
    clearTimeout(this.#idleTimer);
    const socket = await this.#connect(deadline);
    const answer = new Promise<Response>((resolve, reject) => {
      this.#pending = { resolve, reject, received: false };
    });
    const ms = Math.max(1, deadline - this.#now());
    const timer = setTimeout(() => this.#drop(new OwserverError('ETIMEDOUT', `owserver ${this.address} did not answer ${request.path} within ${this.#opts.timeoutMs} ms`)), ms);
    socket.write(encodeRequest(request));
    try {
      const response = await answer;
      // Without the PERSISTENT bit echoed, the server closes after this answer.
      if ((response.flags & FLAG.persistent) === 0) this.#drop();
      else this.#idleTimer = setTimeout(() => this.#drop(), this.#opts.idleMs ?? 2000).unref();
      return response;
    } finally {
      clearTimeout(timer);
    }
  }

  async #connect(deadline: number): Promise<Socket> {
    if (this.#closed) throw new OwserverError('ECANCELED', `connection to owserver ${this.address} closed`);
    if (this.#socket) return this.#socket;
    if (this.#lastConnectError && this.#now() < this.#retryAt) throw this.#lastConnectError;
    const socket = connect({ host: this.#opts.host, port: this.#opts.port });
    socket.setNoDelay(true);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new OwserverError('ETIMEDOUT', `owserver ${this.address} did not accept a connection within ${this.#opts.timeoutMs} ms`)), Math.max(1, deadline - this.#now()));
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(connectError(err, this.address));
        });
      });
    } catch (err) {
      socket.destroy();
      this.#backoff = Math.min(this.#opts.maxBackoffMs ?? 15_000, this.#backoff === 0 ? (this.#opts.backoffMs ?? 500) : this.#backoff * 2);
      this.#retryAt = this.#now() + this.#backoff;
      this.#lastConnectError = err instanceof OwserverError ? err : new OwserverError('EIO', String(err));
      throw this.#lastConnectError;
    }
    this.#backoff = 0;
    this.#lastConnectError = undefined;
    if (this.#closed) {
      socket.destroy();
      throw new OwserverError('ECANCELED', `connection to owserver ${this.address} closed`);
    }
    this.#socket = socket;
    this.#decoder = new ResponseDecoder();
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk));
    socket.on('error', () => undefined); // 'close' follows and does the work
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      const midAnswer = this.#pending?.received === true;
      const what = midAnswer ? 'in the middle of an answer' : 'before answering';
      this.#drop(new OwserverError('ECONNRESET', `owserver ${this.address} closed the connection ${what}`, !midAnswer));
    });
    return socket;
  }

  #onData(socket: Socket, chunk: Buffer): void {
    if (this.#socket !== socket) return;
    const pending = this.#pending;
    if (!pending) {
      this.#drop(); // bytes nobody asked for: the stream is out of step
      return;
    }
    pending.received = true;
    this.#decoder.push(chunk);
    let response: Response | undefined;
    try {
      response = this.#decoder.next();
    } catch (err) {
      this.#drop(new OwserverError('EPROTO', err instanceof ProtocolError ? err.message : String(err)));
      return;
    }
    if (!response) return;
    this.#pending = undefined;
    if (this.#decoder.buffered > 0) this.#drop(); // more than one answer to one request
    pending.resolve(response);
  }

  /** Forget the connection; a pending request fails with `err`. */
  #drop(err?: OwserverError): void {
    clearTimeout(this.#idleTimer);
    const socket = this.#socket;
    const pending = this.#pending;
    this.#socket = undefined;
    this.#pending = undefined;
    socket?.destroy();
    if (pending) pending.reject(err ?? new OwserverError('ECONNRESET', `connection to owserver ${this.address} dropped`));
  }
}

function connectError(err: Error, address: string): OwserverError {
  const code = 'code' in err && typeof err.code === 'string' ? err.code : 'EIO';
  if (code === 'ECONNREFUSED') return new OwserverError(code, `nothing listens on ${address}: is owserver running (systemctl status owserver) and on this port?`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new OwserverError(code, `owserver host ${address} is unreachable`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new OwserverError(code, `cannot resolve the owserver host in ${address}`);
  return new OwserverError(code, `cannot connect to owserver ${address}: ${err.message}`);
}
