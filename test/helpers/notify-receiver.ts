import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { findBinary, stopChild } from './mosquitto.js';

/**
 * What PID 1 would see: a real AF_UNIX datagram socket (python3, with SO_PASSCRED)
 * that records each notification with its sender's PID. Pass `socket` as NOTIFY_SOCKET.
 */
export interface NotifyMessage {
  readonly pid: number | null;
  readonly fds: number;
  readonly msg: string;
  /** The message's KEY=VALUE lines. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface NotifyReceiver {
  /** A path, or `@name` for an abstract socket. */
  readonly socket: string;
  readonly messages: NotifyMessage[];
  /** The first message (received or still to come) matching `predicate`. */
  waitFor(predicate: (m: NotifyMessage) => boolean, timeoutMs?: number): Promise<NotifyMessage>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./notify-receiver.py', import.meta.url));

/** python3 is needed; in CI a missing one is an error, never a skip. */
export function havePython(): boolean {
  if (findBinary('python3')) return true;
  if (process.env['CI']) throw new Error('python3 is needed for the systemd notify tests');
  return false;
}

export async function startNotifyReceiver(opts: { abstract?: boolean } = {}): Promise<NotifyReceiver> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-notify-'));
  const socket = opts.abstract ? `@w1mqtt-test-${process.pid}-${Date.now()}` : join(dir, 'notify.sock');
  const child = spawn(findBinary('python3') ?? 'python3', ['-u', SCRIPT, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: NotifyMessage[] = [];
  const wakers = new Set<() => void>();
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  let partial = '';
  let errors = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { listening?: string; pid: number | null; fds: number; msg: string };
      if (parsed.listening !== undefined) {
        listening();
        continue;
      }
      const fields = Object.fromEntries(parsed.msg.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      messages.push({ pid: parsed.pid, fds: parsed.fds, msg: parsed.msg, fields });
    }
    for (const wake of wakers) wake();
  });
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  const outcome = await Promise.race([ready.then(() => 'ok'), sleep(5_000).then(() => 'timeout')]);
  if (outcome !== 'ok') {
    await stop();
    throw new Error(`notify receiver did not start: ${errors}`);
  }
  const waitFor = (predicate: (m: NotifyMessage) => boolean, timeoutMs = 10_000): Promise<NotifyMessage> =>
    new Promise((resolve, reject) => {
      let seen = 0;
      const check = (): void => {
        for (; seen < messages.length; seen++) {
          const m = messages[seen];
          if (m && predicate(m)) {
            done();
            resolve(m);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching notification within ${timeoutMs} ms; got:\n${messages.map((m) => JSON.stringify(m.msg)).join('\n')}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        wakers.delete(check);
      };
      wakers.add(check);
      check();
    });
  return { socket, messages, waitFor, stop };
}
