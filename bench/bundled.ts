import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/helpers/ports.js';
import { agentNodeFlags } from '../test/helpers/node-flags.js';
import { childPids, cpuSeconds, peakRssMb, rssMb, waitFor } from './lib.js';

export interface BundledResult {
  readonly process: string;
  readonly rssMb: number;
  readonly peakRssMb: number;
  readonly cpuS: number;
}

const ROOT = new URL('../', import.meta.url).pathname;

/**
 * The demo as users run it (bin/w1mqtt.cjs with its node flags: the fixture bus of 19
 * measurements every 5 s, the bundled broker, the live page on): after `seconds`, the RSS
 * and CPU of the agent and of the mosquitto it runs, each and together.
 */
export async function measureBundled(seconds: number): Promise<BundledResult[]> {
  const port = await freePort();
  const child = spawn(process.execPath, [...agentNodeFlags(), join(ROOT, 'bin/w1mqtt.cjs'), 'demo', '--port', String(port), '--web-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  child.stdout.resume();
  const pid = child.pid ?? -1;
  try {
    await waitFor(() => childPids(pid).length > 0, 30_000, 'the bundled broker');
    await sleep(seconds * 1000);
    const broker = childPids(pid)[0] ?? -1;
    const rows = [
      { process: 'w1mqtt (agent, page on)', rssMb: rssMb(pid), peakRssMb: peakRssMb(pid), cpuS: cpuSeconds(pid) },
      { process: 'mosquitto (bundled broker)', rssMb: rssMb(broker), peakRssMb: peakRssMb(broker), cpuS: cpuSeconds(broker) },
    ];
    const sum = (k: 'rssMb' | 'peakRssMb' | 'cpuS'): number => rows.reduce((s, r) => s + r[k], 0);
    return [...rows, { process: 'together', rssMb: sum('rssMb'), peakRssMb: sum('peakRssMb'), cpuS: sum('cpuS') }];
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
  }
}
