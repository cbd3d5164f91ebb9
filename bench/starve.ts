import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BusSimulator, sensorNames } from '../src/sim/bus-simulator.js';

const run = promisify(execFile);

export interface StarveResult {
  readonly label: string;
  readonly pool: number;
  readonly cycleMs: number;
  /** How long an unrelated fs.stat waited: median and worst. */
  readonly p50: number;
  readonly max: number;
}

/**
 * Thread-pool starvation: `buses` simulated buses of `perBus` 12-bit sensors read once
 * by a naive Promise.all and by w1mqtt, each in a fresh process with the pool size given.
 */
export async function measureStarvation(buses: number, perBus: number): Promise<StarveResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-starve-'));
  const sim = new BusSimulator({ dir, buses: Array.from({ length: buses }, (_, b) => ({ sensors: sensorNames(perBus, b + 1).map((name) => ({ name })) })) });
  try {
    await sim.start();
    const child = new URL('./starve-child.ts', import.meta.url).pathname;
    const cases = [
      { label: 'naive Promise.all(readFile)', mode: 'naive', pool: 4 },
      { label: 'w1mqtt, default pool', mode: 'w1mqtt', pool: 4 },
      { label: 'w1mqtt as installed (bin/)', mode: 'w1mqtt', pool: 16 },
    ];
    const results: StarveResult[] = [];
    for (const c of cases) {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', child, c.mode, sim.w1Path], {
        env: { ...process.env, UV_THREADPOOL_SIZE: String(c.pool) },
        timeout: 120_000,
      });
      const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { cycleMs: number; p50: number; max: number };
      results.push({ label: c.label, pool: c.pool, cycleMs: r.cycleMs, p50: r.p50, max: r.max });
    }
    return results;
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
