import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { sensorNames, type SimBusSpec } from '../src/sim/bus-simulator.js';
import { writePlainReadings, writeTree } from '../src/sim/sim-tree.js';
import { agentNodeFlags } from '../test/helpers/node-flags.js';
import { freePort } from '../test/helpers/ports.js';
import { DEBIAN_PYTHON, writeDefaultConfig } from './agent.js';
import { childPids, cpuSeconds, peakRssMb, waitFor } from './lib.js';

export interface CostResult {
  readonly label: string;
  readonly readings: number;
  /** CPU seconds per 10 000 readings published, after a warm-up cycle. */
  readonly cpuPer10k: number;
  /** The publishing process and its bundled broker, when it runs one. */
  readonly peakRssMb: number;
  /** The publishing process alone. */
  readonly agentPeakRssMb: number;
}

const ROOT = new URL('../', import.meta.url).pathname;
const extraFlags = (process.env['BENCH_AGENT_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
/** Runs to do (bundled, default, mosquitto, open, python, floor); all by default. */
const pick = new Set((process.env['BENCH_COST'] ?? '').split(',').filter((p) => p !== ''));
export { DEBIAN_PYTHON };
export const FLOOR_LABEL = 'node fs.read + MQTT.js, no w1mqtt (floor)';
export const DEFAULT_LABEL = 'w1mqtt → mosquitto, default config (page on, fds kept)';

/**
 * Agent cost: a plain-file w1 tree of `sensors` sensors (no simulated delays), read every
 * second and published at QoS 1; a subscriber counts what arrives. CPU and peak RSS of the
 * publishing process, plus its bundled mosquitto when it runs one (a standalone broker is not counted).
 */
export async function measureCost(sensors: number, readings: number, brokers: { mosquittoUrl: string }): Promise<CostResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-cost-'));
  try {
    const buses: SimBusSpec[] = [{ sensors: sensorNames(sensors, 1).map((name, i) => ({ name, milli: 15_000 + (i % 160) * 62.5 })) }];
    const devices = join(dir, 'devices');
    await writeTree(devices, buses);
    await writePlainReadings(devices, buses);
    const results: CostResult[] = [];
    const bundledPort = await freePort();
    // Each run publishes under its own base topic, so retained messages of an earlier run do not count.
    const agentConfig = async (name: string, mqttUrl: string | undefined): Promise<string> => {
      const file = join(dir, `${name}.yaml`);
      const common = `  client_id: bench-agent\n  base_topic: ${name}\n`;
      const mqttPart = mqttUrl ? `mqtt:\n  url: ${mqttUrl}\n${common}` : `mqtt:\n${common}broker:\n  port: ${bundledPort}\n`;
      // The live page off (the baseline has none) and the state (page history) in the temp dir.
      await writeFile(file, `${mqttPart}sources:\n  - type: w1\n    path: ${devices}\ninterval: 1s\nlog_level: warn\nweb:\n  enabled: false\nstate_dir: ${join(dir, `state-${name}`)}\n`);
      return file;
    };
    // Started as scripts/start.sh starts it (the node flags of bin/w1mqtt.cjs's #! line; BENCH_AGENT_FLAGS adds some for
    // profiling, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, and BENCH_COST=mosquitto,python picks runs). On sysfs the agent keeps each w1_slave open and re-reads it (one thread-pool trip);
    // on this tmpfs copy it would open, read and close each time unless told to keep fds.
    const agent = (keepFds: boolean) => (config: string) =>
      spawn(process.execPath, [...agentNodeFlags(), ...extraFlags, join(ROOT, 'bin/w1mqtt.cjs'), 'run', '--config', config], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, W1MQTT_KEEP_FDS: keepFds ? '1' : '0' },
      });
    const mUrl = new URL(brokers.mosquittoUrl);
    const picked = (name: string): boolean => pick.size === 0 || pick.has(name);
    if (picked('bundled')) results.push(await run('w1mqtt + its bundled mosquitto (fds kept, as on sysfs)', agent(true), `mqtt://127.0.0.1:${bundledPort}`, 'bundled', sensors, readings, await agentConfig('bundled', undefined)));
    // The default config (live page on, log level as shipped), as users run it: the row the targets hold the agent to;
    // the page-off row below shows what the page costs.
    if (picked('default')) {
      const config = await writeDefaultConfig(join(dir, 'default.yaml'), { devices, stateDir: join(dir, 'state-default'), clientId: 'bench-agent', baseTopic: 'default', mqttUrl: brokers.mosquittoUrl, intervalS: 1 });
      results.push(await run(DEFAULT_LABEL, agent(true), brokers.mosquittoUrl, 'default', sensors, readings, config));
    }
    if (picked('mosquitto')) results.push(await run('w1mqtt → mosquitto (fds kept, as on sysfs)', agent(true), brokers.mosquittoUrl, 'mosquitto', sensors, readings, await agentConfig('mosquitto', brokers.mosquittoUrl)));
    if (picked('open')) results.push(await run('w1mqtt → mosquitto (open/read/close per reading)', agent(false), brokers.mosquittoUrl, 'mosquitto2', sensors, readings, await agentConfig('mosquitto2', brokers.mosquittoUrl)));
    const python = () => spawn(DEBIAN_PYTHON, [join(ROOT, 'bench/baseline_paho.py'), devices, mUrl.hostname, mUrl.port, '1', 'baseline'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (picked('python')) results.push(await run('python3 + paho-mqtt → mosquitto', python, brokers.mosquittoUrl, 'baseline', sensors, readings, ''));
    // Node's own parts without w1mqtt (fs.read per reading, MQTT.js at QoS 1): how low the agent's figure could go.
    const floor = () => spawn(process.execPath, [...agentNodeFlags(), join(ROOT, 'bench/floor-node.mjs'), devices, mUrl.hostname, mUrl.port, '1', 'floor'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (picked('floor')) results.push(await run(FLOOR_LABEL, floor, brokers.mosquittoUrl, 'floor', sensors, readings, ''));
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function run(label: string, start: (config: string) => ChildProcess, url: string, base: string, sensors: number, readings: number, config: string): Promise<CostResult> {
  const child = start(config);
  const pid = child.pid ?? -1;
  let received = 0;
  let sub: mqtt.MqttClient | undefined;
  try {
    // The bundled broker lives in the agent: connect once it listens.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        sub = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2_000 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    sub.on('message', () => void received++);
    await sub.subscribeAsync(`${base}/1wire/#`, { qos: 0 });
    await waitFor(() => received >= sensors, 60_000, `${label}: a first full cycle`);
    // The agent and the broker it runs as its child, when it runs one.
    const pids = [pid, ...childPids(pid)];
    const cpuNow = (): number => pids.reduce((sum, p) => sum + cpuSeconds(p), 0);
    const cpu0 = cpuNow();
    const from = received;
    await waitFor(() => received - from >= readings, 120_000, `${label}: ${readings} readings`);
    const cpu = cpuNow() - cpu0;
    const got = received - from;
    return { label, readings: got, cpuPer10k: (cpu * 10_000) / got, peakRssMb: pids.reduce((sum, p) => sum + peakRssMb(p), 0), agentPeakRssMb: peakRssMb(pid) };
  } finally {
    await sub?.endAsync(true).catch(() => {});
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  }
}
