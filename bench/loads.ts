import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/helpers/ports.js';
import { plainTree, ReadingWatch, spawnAgent, spawnFloor, spawnPython, stop, writeDefaultConfig } from './agent.js';
import { childPids, cpuSeconds, peakRssMb, rssMb, threadCpuNs, threadCpuSeconds, waitFor } from './lib.js';

/**
 * The loads people run (DESIGN §5 "Real loads"): a few to a hundred sensors every few
 * seconds, the default config (live page on), against the Python + paho loop doing the
 * same job; the agent's start-up CPU to its first full cycle; agent + bundled broker memory.
 */

export interface LoadCase {
  readonly sensors: number;
  readonly intervalS: number;
}

/** One CPU window over every process of a case. */
export interface LoadWindow {
  /** When it opened, in seconds after the last process's first full cycle (as measured). */
  readonly fromS: number;
  /** How long it lasted (as measured). */
  readonly seconds: number;
  readonly agentCpuS: number;
  readonly pythonCpuS: number;
  /** Node's fs.read + MQTT.js doing the same job with nothing of w1mqtt: what Node itself costs at this load. */
  readonly floorCpuS: number;
  /** Readings each published in the window, as a subscriber counted them (a check that all did the job). */
  readonly agentReadings: number;
  readonly pythonReadings: number;
  readonly floorReadings: number;
}

export interface LoadResult extends LoadCase {
  /** The first minutes: opens `settleS` after the last first full cycle, lasts `windowS`. */
  readonly first: LoadWindow;
  /** Steady state: opens `warmupS` after the last first full cycle, lasts `steadyS`. */
  readonly steady: LoadWindow;
}

export interface LoadWindows {
  /** Length of the first-minutes window, s. */
  readonly windowS: number;
  /** From the last first full cycle to the first-minutes window, s (default 5). */
  readonly settleS?: number;
  /** From the last first full cycle to the steady window, s (default 300; at least settleS + windowS). */
  readonly warmupS?: number;
  /** Length of the steady window, s (default 300). */
  readonly steadyS?: number;
}

const KEY = (c: LoadCase): string => `l${c.sensors}x${c.intervalS}`;

/**
 * Every case's agent, its Python twin and its Node floor twin run at once, on one standalone
 * mosquitto: each publishes under its own base topic, reads its own plain-file tree, and a
 * subscriber counts what arrives. At these rates (at most 20 readings/s per process, about
 * 1 % of a core for all of them together) the processes barely ever want a core at the same
 * moment on this 2-core machine, so running them together changes no figure measurably and
 * keeps the part to about ten minutes instead of forty.
 *
 * CPU is read over two windows, both timed from the last process's first full cycle (seen by
 * the subscriber), so start-up, which has its own row, stays out of both:
 * - first minutes: opens `settleS` after it and lasts `windowS`;
 * - steady: opens `warmupS` after it (default 300 s) and lasts `steadyS` (default 300 s).
 * The agent is a service that runs for days, and at these low rates V8's optimizing compiler
 * keeps compiling newly hot functions for about the first five minutes (at 100 sensors every
 * 5 s: ~50 compiles in minute 1, ~13 in minute 3, ~5 a minute after minute 4), each on a
 * background thread whose CPU counts. The first window therefore measures that warm-up as much
 * as the job; the steady one measures what the service costs a user from then on. Python has
 * no such warm-up, so its two figures differ only by noise, which the longer steady window also
 * narrows. The caller gives each window a multiple of every interval as its length, so each
 * process does the same whole number of cycles in it. CPU is each thread's time on a CPU from
 * /proc/<pid>/task/<tid>/schedstat, in ns (10 ms ticks would resolve only 0.003 % of a core
 * over 300 s, a fifth of the Python loop's figure at 20 sensors every 30 s).
 */
export async function measureLoads(cases: readonly LoadCase[], mosquittoUrl: string, windows: LoadWindows): Promise<LoadResult[]> {
  const { windowS, settleS = 5, warmupS = 300, steadyS = 300 } = windows;
  if (warmupS < settleS + windowS) throw new Error(`bench: the steady window (from ${warmupS} s) would overlap the first one (${settleS}–${settleS + windowS} s)`);
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-loads-'));
  const children: ChildProcess[] = [];
  const watch = new ReadingWatch();
  try {
    await watch.connect(mosquittoUrl);
    const runs: { c: LoadCase; agent: ChildProcess; python: ChildProcess; floor: ChildProcess }[] = [];
    for (const c of cases) {
      const key = KEY(c);
      const devices = join(dir, key, 'devices');
      await plainTree(devices, c.sensors);
      const config = await writeDefaultConfig(join(dir, key, 'w1mqtt.yaml'), {
        devices,
        stateDir: join(dir, key, 'state'),
        clientId: `${key}-agent`,
        baseTopic: `${key}-agent`,
        mqttUrl: mosquittoUrl,
        intervalS: c.intervalS,
      });
      const agent = spawnAgent(config);
      children.push(agent);
      const python = spawnPython(devices, mosquittoUrl, c.intervalS, `${key}-python`, `${key}-python`);
      children.push(python);
      const floor = spawnFloor(devices, mosquittoUrl, c.intervalS, `${key}-floor`, `${key}-floor`);
      children.push(floor);
      runs.push({ c, agent, python, floor });
    }
    await Promise.all(runs.flatMap(({ c }) => [watch.fullCycle(`${KEY(c)}-agent`, c.sensors, 60_000), watch.fullCycle(`${KEY(c)}-python`, c.sensors, 60_000), watch.fullCycle(`${KEY(c)}-floor`, c.sensors, 60_000)]));
    const cycled = performance.now();
    const pids = runs.flatMap(({ agent, python, floor }) => [agent.pid ?? -1, python.pid ?? -1, floor.pid ?? -1]);
    const counts = (): number[] => runs.flatMap(({ c }) => [watch.messages(`${KEY(c)}-agent`), watch.messages(`${KEY(c)}-python`), watch.messages(`${KEY(c)}-floor`)]);
    const delta = (a: number[], b: number[], i: number): number => (b[i] ?? 0) - (a[i] ?? 0);
    const cpu = (a: Map<string, number>[], b: Map<string, number>[], i: number): number => threadCpuSeconds(a[i] ?? new Map(), b[i] ?? new Map());
    // Each process's CPU and readings over `lengthS` from `fromS` after the last first full cycle, per case.
    const window = async (fromS: number, lengthS: number): Promise<LoadWindow[]> => {
      await sleep(Math.max(0, cycled + fromS * 1000 - performance.now()));
      for (const { agent, python, floor } of runs) if (agent.exitCode !== null || python.exitCode !== null || floor.exitCode !== null) throw new Error('bench: a load process exited');
      const t0 = performance.now();
      const cpu0 = pids.map(threadCpuNs);
      const n0 = counts();
      await sleep(lengthS * 1000);
      const cpu1 = pids.map(threadCpuNs);
      const n1 = counts();
      const t1 = performance.now();
      return runs.map((_, i) => ({
        fromS: (t0 - cycled) / 1000,
        seconds: (t1 - t0) / 1000,
        agentCpuS: cpu(cpu0, cpu1, 3 * i),
        pythonCpuS: cpu(cpu0, cpu1, 3 * i + 1),
        floorCpuS: cpu(cpu0, cpu1, 3 * i + 2),
        agentReadings: delta(n0, n1, 3 * i),
        pythonReadings: delta(n0, n1, 3 * i + 1),
        floorReadings: delta(n0, n1, 3 * i + 2),
      }));
    };
    const first = await window(settleS, windowS);
    const steady = await window(warmupS, steadyS);
    return runs.map(({ c }, i) => {
      const f = first[i];
      const s = steady[i];
      if (!f || !s) throw new Error('bench: a load case has no window');
      return { ...c, first: f, steady: s };
    });
  } finally {
    await watch.end();
    await Promise.all(children.map(stop));
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A config as a user's (default: page on, bundled broker) for `sensors` plain-file sensors
 * in `dir`, publishing under `name`; with the URL of the broker the agent will start.
 */
async function bundledSetup(dir: string, sensors: number, name: string, intervalS?: number): Promise<{ config: string; brokerUrl: string }> {
  const devices = join(dir, 'devices');
  await plainTree(devices, sensors);
  const brokerPort = await freePort();
  const config = await writeDefaultConfig(join(dir, 'w1mqtt.yaml'), { devices, stateDir: join(dir, 'state'), clientId: `bench-${name}`, baseTopic: name, brokerPort, ...(intervalS !== undefined && { intervalS }) });
  return { config, brokerUrl: `mqtt://127.0.0.1:${brokerPort}` };
}

export interface StartupResult {
  readonly sensors: number;
  /** The agent process's utime + stime from exec to the subscriber seeing the last sensor of the first cycle. */
  readonly cpuS: number;
  readonly wallS: number;
  /** Its bundled mosquitto over the same time (not part of the target). */
  readonly brokerCpuS: number;
}

/**
 * Start-up as a user's `systemctl start` sees it: the default config (page on, bundled
 * broker, default interval), `sensors` plain-file sensors. A subscriber retries the
 * bundled broker's port until it is up and counts distinct sensor topics (retained ones
 * published before it connected count too); the agent's CPU is read the moment the last one arrives.
 */
export async function measureStartup(sensors: number): Promise<StartupResult> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-startup-'));
  let agent: ChildProcess | undefined;
  const watch = new ReadingWatch();
  try {
    const { config, brokerUrl } = await bundledSetup(dir, sensors, 'startup');
    const t0 = performance.now();
    agent = spawnAgent(config);
    const pid = agent.pid ?? -1;
    await watch.connect(brokerUrl, 60_000);
    await watch.fullCycle('startup', sensors, 120_000);
    const cpuS = cpuSeconds(pid);
    const wallS = (performance.now() - t0) / 1000;
    const broker = childPids(pid)[0];
    return { sensors, cpuS, wallS, brokerCpuS: broker === undefined ? Number.NaN : cpuSeconds(broker) };
  } finally {
    await watch.end();
    if (agent) await stop(agent);
    await rm(dir, { recursive: true, force: true });
  }
}

export interface MemoryResult {
  readonly process: string;
  readonly rssMb: number;
  readonly peakRssMb: number;
}

/**
 * Agent + its bundled mosquitto with `sensors` sensors every `intervalS`, default config
 * (page on, bundled broker), `cycles` cycles after the first full one: each process's
 * RSS and peak RSS, and both together (as part (f) reports the demo).
 */
export async function measureMemory(sensors: number, intervalS: number, cycles: number): Promise<MemoryResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-memory-'));
  let agent: ChildProcess | undefined;
  const watch = new ReadingWatch();
  try {
    const { config, brokerUrl } = await bundledSetup(dir, sensors, 'memory', intervalS);
    agent = spawnAgent(config);
    const pid = agent.pid ?? -1;
    await watch.connect(brokerUrl, 60_000);
    await watch.fullCycle('memory', sensors, 60_000);
    await waitFor(() => watch.messages('memory') >= sensors * (cycles + 1), (cycles + 2) * intervalS * 1000, `${cycles} more cycles`);
    const broker = childPids(pid)[0] ?? -1;
    const rows = [
      { process: 'w1mqtt (agent, page on)', rssMb: rssMb(pid), peakRssMb: peakRssMb(pid) },
      { process: 'mosquitto (bundled broker)', rssMb: rssMb(broker), peakRssMb: peakRssMb(broker) },
    ];
    return [...rows, { process: 'together', rssMb: rows.reduce((s, r) => s + r.rssMb, 0), peakRssMb: rows.reduce((s, r) => s + r.peakRssMb, 0) }];
  } finally {
    await watch.end();
    if (agent) await stop(agent);
    await rm(dir, { recursive: true, force: true });
  }
}
