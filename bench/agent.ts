import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { sensorNames, type SimBusSpec } from '../src/sim/bus-simulator.js';
import { writePlainReadings, writeTree } from '../src/sim/sim-tree.js';
import { stopChild } from '../test/helpers/mosquitto.js';
import { agentNodeFlags } from '../test/helpers/node-flags.js';

/**
 * The agent as a user runs it, for the bench parts that measure real loads: the installed
 * entry (bin/w1mqtt.cjs with its #! line's node flags), a config that sets nothing but what
 * the machine needs (where the sensors, the state and the broker are, and ports nobody else
 * on this machine uses), and a plain-file w1 tree.
 */

const ROOT = new URL('../', import.meta.url).pathname;

/** One bus of `count` plain-file sensors (no simulated delays) under `devices`. */
export async function plainTree(devices: string, count: number): Promise<void> {
  const buses: SimBusSpec[] = [{ sensors: sensorNames(count, 1).map((name, i) => ({ name, milli: 15_000 + (i % 160) * 62.5 })) }];
  await writeTree(devices, buses);
  await writePlainReadings(devices, buses);
}

export interface DefaultConfigOptions {
  readonly devices: string;
  readonly stateDir: string;
  readonly clientId: string;
  readonly baseTopic: string;
  /** A standalone broker; without it the agent runs its bundled mosquitto on `brokerPort`. */
  readonly mqttUrl?: string;
  readonly brokerPort?: number;
  /** Seconds; the default (30 s) when absent. */
  readonly intervalS?: number;
}

/**
 * A config with the defaults left alone: the live page on (on 127.0.0.1, port 0 so the
 * concurrent agents and other tests never collide), log_level, QoS 1 retained, stats,
 * re-discovery all as shipped. The client id and base topic are set so several agents can
 * share a broker and a subscriber can tell them apart.
 */
export async function writeDefaultConfig(file: string, o: DefaultConfigOptions): Promise<string> {
  const mqttPart = `mqtt:\n${o.mqttUrl ? `  url: ${o.mqttUrl}\n` : ''}  client_id: ${o.clientId}\n  base_topic: ${o.baseTopic}\n`;
  const brokerPart = o.mqttUrl ? '' : `broker:\n  port: ${o.brokerPort ?? 1883}\n`;
  const interval = o.intervalS === undefined ? '' : `interval: ${o.intervalS}s\n`;
  await writeFile(file, `${mqttPart}${brokerPart}sources:\n  - type: w1\n    path: ${o.devices}\n${interval}web:\n  host: 127.0.0.1\n  port: 0\nstate_dir: ${o.stateDir}\n`);
  return file;
}

/**
 * bin/w1mqtt.cjs run, started as scripts/start.sh starts it. On sysfs the agent keeps each
 * w1_slave open and re-reads it; on this tmpfs copy it would open, read and close each time
 * unless told to keep fds (W1MQTT_KEEP_FDS=1). LOG_LEVEL is dropped so the default level holds.
 */
export function spawnAgent(config: string): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, W1MQTT_KEEP_FDS: '1' };
  delete env['LOG_LEVEL'];
  return spawn(process.execPath, [...agentNodeFlags(), join(ROOT, 'bin/w1mqtt.cjs'), 'run', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

export const DEBIAN_PYTHON = '/usr/bin/python3';

/** bench/baseline_paho.py: the same job the simplest way, QoS 1 retained, every `intervalS`. */
export function spawnPython(devices: string, brokerUrl: string, intervalS: number, baseTopic: string, clientId: string): ChildProcess {
  const u = new URL(brokerUrl);
  return spawn(DEBIAN_PYTHON, [join(ROOT, 'bench/baseline_paho.py'), devices, u.hostname, u.port, String(intervalS), baseTopic, clientId], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Node's own parts doing the job, nothing of w1mqtt (bench/floor-node.mjs), with the agent's node flags. */
export function spawnFloor(devices: string, brokerUrl: string, intervalS: number, baseTopic: string, clientId: string): ChildProcess {
  const u = new URL(brokerUrl);
  return spawn(process.execPath, [...agentNodeFlags(), join(ROOT, 'bench/floor-node.mjs'), devices, u.hostname, u.port, String(intervalS), baseTopic, clientId], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function stop(child: ChildProcess): Promise<void> {
  await stopChild(child, 10_000);
}

/**
 * A subscriber to `+/1wire/+/temperature`: per base topic, the distinct sensor topics seen
 * (a full cycle is all of them) and the messages received. Retries the connection while the
 * broker (a bundled one starts with its agent) is not up yet.
 */
export class ReadingWatch {
  readonly #topics = new Map<string, Set<string>>();
  readonly #counts = new Map<string, number>();
  readonly #onMessage: ((base: string) => void)[] = [];
  #client: mqtt.MqttClient | undefined;

  async connect(url: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.#client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2_000 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.#client.on('message', (topic) => {
      const base = topic.slice(0, topic.indexOf('/'));
      let seen = this.#topics.get(base);
      if (!seen) this.#topics.set(base, (seen = new Set()));
      seen.add(topic);
      this.#counts.set(base, (this.#counts.get(base) ?? 0) + 1);
      for (const f of this.#onMessage) f(base);
    });
    await this.#client.subscribeAsync('+/1wire/+/temperature', { qos: 0 });
  }

  /** Distinct sensors seen under `base`. */
  sensors(base: string): number {
    return this.#topics.get(base)?.size ?? 0;
  }

  messages(base: string): number {
    return this.#counts.get(base) ?? 0;
  }

  /** Resolves on the message that completes `count` distinct sensors under `base`, not at the next poll. */
  fullCycle(base: string, count: number, timeoutMs: number): Promise<void> {
    if (this.sensors(base) >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench: ${base}: no full cycle of ${count} sensors in ${timeoutMs} ms (${this.sensors(base)} seen)`)), timeoutMs);
      const check = (b: string): void => {
        if (b !== base || this.sensors(base) < count) return;
        clearTimeout(timer);
        this.#onMessage.splice(this.#onMessage.indexOf(check), 1);
        resolve();
      };
      this.#onMessage.push(check);
    });
  }

  async end(): Promise<void> {
    await this.#client?.endAsync(true).catch(() => {});
  }
}
