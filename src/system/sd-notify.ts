import { execFile } from 'node:child_process';
import type { Logger } from '../log.js';
import { errText } from './err-text.js';

/**
 * The sd_notify protocol (man sd_notify(3)): newline-separated `KEY=VALUE` lines in
 * one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET. Node has no unix
 * datagram sockets, so the message goes through the optional native `unix-dgram`
 * addon, or, when it did not build or the socket is abstract (`@name`, which
 * unix-dgram cannot address), through the `systemd-notify` command. That command
 * sends from its own PID, which is why the unit says NotifyAccess=all.
 * Without $NOTIFY_SOCKET (not under systemd) nothing is created and nothing is sent.
 */

export type NotifyTransportKind = 'unix-dgram' | 'systemd-notify';

export interface NotifyTransport {
  readonly kind: NotifyTransportKind;
  send(message: string): Promise<void>;
  close(): void;
}

/** The parts of unix-dgram used here (it ships no types). */
interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

/** The transport for `socket`: unix-dgram when it loads and the socket is a path, else the systemd-notify command. */
export async function openTransport(socket: string, options: { prefer?: NotifyTransportKind | undefined } = {}): Promise<NotifyTransport> {
  if (options.prefer !== 'systemd-notify' && !socket.startsWith('@')) {
    const unix = await loadUnixDgram();
    if (unix) return unixDgramTransport(unix, socket);
  }
  return cliTransport(socket);
}

async function loadUnixDgram(): Promise<UnixDgramModule | undefined> {
  const name = 'unix-dgram'; // a variable: an optional dependency that may be absent
  try {
    const mod = (await import(name)) as { default?: UnixDgramModule } & Partial<UnixDgramModule>;
    const unix = mod.default ?? mod;
    return typeof unix.createSocket === 'function' ? (unix as UnixDgramModule) : undefined;
  } catch {
    return undefined; // not installed, or its native part failed to build
  }
}

function unixDgramTransport(unix: UnixDgramModule, path: string): NotifyTransport {
  const socket = unix.createSocket('unix_dgram');
  socket.on('error', () => undefined); // errors also reach the send callback
  return {
    kind: 'unix-dgram',
    send: (message) =>
      new Promise<void>((resolve, reject) => {
        const buf = Buffer.from(message, 'utf8');
        socket.send(buf, 0, buf.length, path, (err) => (err ? reject(new Error(`send to ${path}: ${err.message}`)) : resolve()));
      }),
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

function cliTransport(socket: string): NotifyTransport {
  return {
    kind: 'systemd-notify',
    // Each line is one argument; systemd-notify waits (BARRIER=1) until PID 1 has read it.
    send: (message) =>
      new Promise<void>((resolve, reject) => {
        const env = { ...process.env, NOTIFY_SOCKET: socket };
        execFile('systemd-notify', message.split('\n'), { env, timeout: 5_000 }, (err, _stdout, stderr) =>
          err ? reject(new Error(`systemd-notify: ${stderr.trim() || err.message}`)) : resolve(),
        );
      }),
    close: () => undefined,
  };
}

/**
 * How often to send WATCHDOG=1: half of $WATCHDOG_USEC (sd_watchdog_enabled(3)), and
 * only when $WATCHDOG_PID is unset or names this process, since a watchdog set for
 * a parent (a shell wrapper) is not ours to feed.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const owner = env['WATCHDOG_PID'];
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/** One notification: `{ READY: 1, STATUS: '…' }` → `READY=1\nSTATUS=…`. Values lose their newlines. */
export function formatNotify(fields: Readonly<Record<string, string | number>>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${String(value).replace(/[\r\n]+/g, ' ')}`)
    .join('\n');
}

/**
 * Sends notifications one after another (their order matters: READY before STATUS,
 * RELOADING before READY). A failing socket is logged when it starts failing and when
 * it works again, never once per watchdog ping.
 */
export class SdNotify {
  readonly #transport: NotifyTransport;
  readonly #log: Logger;
  #queue: Promise<void> = Promise.resolve();
  #failing = false;

  constructor(transport: NotifyTransport, log: Logger) {
    this.#transport = transport;
    this.#log = log;
  }

  /** An SdNotify for $NOTIFY_SOCKET, or undefined when there is none (not started by systemd). */
  static async fromEnv(env: NodeJS.ProcessEnv, log: Logger): Promise<SdNotify | undefined> {
    const socket = env['NOTIFY_SOCKET'];
    if (socket === undefined || socket === '') return undefined;
    const transport = await openTransport(socket);
    log.debug({ socket, transport: transport.kind }, 'systemd notify socket');
    return new SdNotify(transport, log);
  }

  get transport(): NotifyTransportKind {
    return this.#transport.kind;
  }

  /** Queues one notification; resolves when sent (or failed and logged). Never rejects. */
  send(fields: Readonly<Record<string, string | number>>): Promise<void> {
    const message = formatNotify(fields);
    this.#queue = this.#queue.then(() =>
      this.#transport.send(message).then(
        () => {
          if (this.#failing) this.#log.info('systemd notify socket works again');
          this.#failing = false;
        },
        (err: unknown) => {
          if (!this.#failing) this.#log.warn({ err: errText(err) }, 'cannot notify systemd');
          this.#failing = true;
        },
      ),
    );
    return this.#queue;
  }

  /** Waits for queued notifications, then releases the socket. */
  async close(): Promise<void> {
    await this.#queue;
    this.#transport.close();
  }
}
