import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './agent-process.js';
import { findBinary, stopChild } from './mosquitto.js';

/**
 * Home Assistant's side of MQTT discovery, played by test/helpers/ha_client.py through
 * paho-mqtt (the library HA itself uses) over MQTT 5: it subscribes to the discovery
 * prefix, then to each discovered entity's state and availability topics, and publishes
 * what the test asks (HA's birth message). Stopped by PID.
 */

export interface HaEvent {
  readonly event: 'connected' | 'subscribed' | 'message' | 'published';
  readonly topic?: string;
  readonly payload?: string;
  readonly retain?: boolean;
  readonly rc?: number;
  readonly paho?: string;
}

export interface HaClient {
  readonly pid: number;
  readonly events: HaEvent[];
  /** The first event (already seen or still to come) after index `from` matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (e: HaEvent) => boolean, timeoutMs?: number, from?: number): Promise<HaEvent>;
  publish(topic: string, payload: string, opts?: { qos?: 0 | 1; retain?: boolean }): void;
  stop(): Promise<void>;
}

const SCRIPT = join(ROOT, 'test/helpers/ha_client.py');

/**
 * A python3 that imports paho.mqtt: Debian's (python3-paho-mqtt) first, since a python3
 * earlier on PATH (pyenv, a venv) may lack it. Undefined when there is none; in CI that is
 * an error, never a skip.
 */
export function pahoPython(): string | undefined {
  const candidates = [...new Set(['/usr/bin/python3', findBinary('python3')].filter((p): p is string => p !== undefined))];
  const found = candidates.find((python) => spawnSync(python, ['-c', 'import paho.mqtt.client'], { timeout: 10_000 }).status === 0);
  if (found === undefined && process.env['CI']) throw new Error('python3 with paho-mqtt is needed for the Home Assistant tests in CI (apt-get install python3-paho-mqtt)');
  return found;
}

export function startHaClient(opts: { python: string; port: number; username: string; password: string; prefix?: string }): HaClient {
  const args = [SCRIPT, '127.0.0.1', String(opts.port), opts.username, opts.password, opts.prefix ?? 'homeassistant'];
  const child = spawn(opts.python, ['-u', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: HaEvent[] = [];
  const wakers = new Set<() => void>();
  let partial = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') events.push(JSON.parse(line) as HaEvent);
    for (const wake of wakers) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-8000)));
  child.stdin.on('error', () => undefined); // it may be gone already when stop() ends its input

  const waitFor: HaClient['waitFor'] = (predicate, timeoutMs = 10_000, from = 0) =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = events.slice(from).find(predicate);
        if (hit) resolve(hit);
        return hit !== undefined;
      };
      if (check()) return;
      const wake = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        wakers.delete(wake);
      };
      const timer = setTimeout(() => {
        wakers.delete(wake);
        reject(new Error(`HA client: no matching event within ${timeoutMs} ms; last events:\n${events.slice(-10).map((e) => JSON.stringify(e)).join('\n')}\nstderr:\n${err}`));
      }, timeoutMs);
      wakers.add(wake);
    });

  return {
    pid: child.pid ?? -1,
    events,
    waitFor,
    publish(topic, payload, o = {}) {
      child.stdin.write(JSON.stringify({ topic, payload, qos: o.qos ?? 0, retain: o.retain ?? false }) + '\n');
    },
    async stop() {
      const gone = child.exitCode !== null || child.signalCode !== null;
      const exited = gone ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end(); // it disconnects cleanly at the end of its input
      await Promise.race([exited, sleep(2_000, undefined, { ref: false })]);
      await stopChild(child);
    },
  };
}
