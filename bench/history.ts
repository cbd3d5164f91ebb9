import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { agentNodeFlags } from '../test/helpers/node-flags.js';

const run = promisify(execFile);

export interface HistoryResult {
  readonly sensors: number;
  readonly intervalMs: number;
  readonly readings: number;
  readonly cpuS: number;
  readonly bytesPerSensor: number;
  readonly chartPoints: number;
  readonly fileBytesPerSensor: number;
  /** Peak RSS after the simulated day, with the history held. */
  readonly heldRssMb: number;
  /** Peak RSS after also building the saved form (what a clean stop writes). */
  readonly peakRssMb: number;
  /** A plain Node process running nothing: what the figures above stand on. */
  readonly emptyRssMb: number;
}

/**
 * The page's history over a simulated day, each case in a fresh process (bundled like
 * dist/, so no loader's memory counts): one sensor at 1 s and at 60 s for bytes per sensor,
 * and `many` sensors at 1 s for the process's peak RSS. With the agent's node flags (bin/w1mqtt.cjs's #! line),
 * as the agent runs.
 */
export async function measureHistory(many: number): Promise<HistoryResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-bench-history-'));
  try {
    const child = join(dir, 'history-child.mjs');
    await build({ entryPoints: [new URL('./history-child.ts', import.meta.url).pathname], outfile: child, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
    const empty = await run(process.execPath, ['-e', 'process.stdout.write(String(process.resourceUsage().maxRSS / 1024))']);
    const emptyRssMb = Number(empty.stdout);
    const out: HistoryResult[] = [];
    for (const [sensors, intervalMs] of [[1, 1000], [1, 60_000], [many, 1000]] as const) {
      const { stdout } = await run(process.execPath, [...agentNodeFlags(), child, String(sensors), String(intervalMs)], { maxBuffer: 1 << 20 });
      out.push({ ...(JSON.parse(stdout) as Omit<HistoryResult, 'emptyRssMb'>), emptyRssMb });
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
