import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary, stopChild } from './mosquitto.js';

/**
 * The real `mosquitto_sub` as a test's subscriber: what a user would run, so a
 * test sees exactly what the user sees. `-F '%r\t%t\t%p'` prints the retain flag
 * before `topic payload` (the `-v` form); `-d` prints the SUBACK we wait for.
 */

export interface SubMessage {
  readonly retained: boolean;
  readonly topic: string;
  readonly payload: string;
}

export interface Subscriber {
  readonly pid: number;
  /** Each message as `mosquitto_sub -v` prints it: `topic payload`. */
  readonly lines: string[];
  /** Each message with its retain flag. */
  readonly retainedLines: SubMessage[];
  /** The first message (already received or still to come) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (m: SubMessage) => boolean, timeoutMs?: number): Promise<SubMessage>;
  stop(): Promise<void>;
  /** PUBLISH packets the broker flagged as a redelivery (DUP=1, MQTT-3.3.1-1): its own resends to this subscriber. */
  redelivered(): number;
}

const READY_WAIT_MS = 5_000;
// Tab-separated, since a topic may contain spaces (mosquitto's own `$SYS/broker/retained messages/count`).
const MESSAGE = /^([01])\t([^\t]*)\t(.*)$/;

/**
 * `clientId` makes a persistent session (`-c -i id -q 1`): the broker queues QoS 1 messages
 * for it while it is away, and mosquitto_sub reconnects by itself after a broker restart.
 */
export async function subscribe(opts: { port: number; topics: string[]; username?: string; password?: string; extra?: string[]; clientId?: string }): Promise<Subscriber> {
  const args = ['-h', '127.0.0.1', '-p', String(opts.port), '-d', '-F', '%r\\t%t\\t%p'];
  if (opts.clientId !== undefined) args.push('-c', '-i', opts.clientId, '-q', '1');
  for (const topic of opts.topics) args.push('-t', topic);
  if (opts.username !== undefined) args.push('-u', opts.username);
  if (opts.password !== undefined) args.push('-P', opts.password);
  args.push(...(opts.extra ?? []));
  // mosquitto_sub's stdout is block-buffered on a pipe: stdbuf makes it line-buffered,
  // so the SUBACK line and each message arrive as they happen.
  const sub = findBinary('mosquitto_sub') ?? 'mosquitto_sub';
  const stdbuf = findBinary('stdbuf');
  const child = stdbuf
    ? spawn(stdbuf, ['-oL', sub, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(sub, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  const lines: string[] = [];
  const retainedLines: SubMessage[] = [];
  let redelivered = 0;
  const waiters = new Set<() => void>();
  let output = '';
  let partial = '';
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      output = (output + line + '\n').slice(-16_000);
      const m = MESSAGE.exec(line);
      if (m) {
        const message = { retained: m[1] === '1', topic: m[2] ?? '', payload: m[3] ?? '' };
        retainedLines.push(message);
        lines.push(`${message.topic} ${message.payload}`);
        for (const wake of waiters) wake();
      } else if (line.includes(' received PUBLISH (d1,')) {
        redelivered++;
      } else if (line.startsWith('Subscribed (mid')) {
        subscribed();
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-16_000)));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`mosquitto_sub exited (${code ?? signal})`));
    child.once('error', (err) => resolve(`mosquitto_sub failed: ${err.message}`));
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stopChild(child));

  const timer = new AbortController();
  const timedOut = sleep(READY_WAIT_MS, `no SUBACK after ${READY_WAIT_MS} ms`, { signal: timer.signal }).catch(() => 'aborted');
  const outcome = await Promise.race([ready.then(() => 'ok'), exited, timedOut]);
  timer.abort();
  if (outcome !== 'ok') {
    await stop();
    throw new Error(`mosquitto_sub on port ${opts.port}: ${outcome}\n${output}`);
  }

  const waitFor = (predicate: (m: SubMessage) => boolean, timeoutMs = 5_000): Promise<SubMessage> =>
    new Promise((resolve, reject) => {
      let seen = 0;
      const check = (): void => {
        for (; seen < retainedLines.length; seen++) {
          const message = retainedLines[seen];
          if (message && predicate(message)) {
            finish();
            resolve(message);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no matching message within ${timeoutMs} ms; received:\n${lines.join('\n')}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return { pid: child.pid ?? -1, lines, retainedLines, waitFor, stop, redelivered: () => redelivered };
}
