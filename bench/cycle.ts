import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resolution } from '../src/onewire/scratchpad-encode.js';
import type { BulkMode } from '../src/sampling/bulk.js';
import { systemClock } from '../src/system/clock.js';
import { Scheduler } from '../src/sampling/scheduler.js';
import { convTimeMs } from '../src/sim/bus-model.js';
import { BusSimulator, sensorNames } from '../src/sim/bus-simulator.js';
import { masterName } from '../src/sim/sim-tree.js';
import { W1SysfsSource } from '../src/sources/w1-sysfs.js';
import { median, silent } from './lib.js';

/**
 * Bus cycle time: how long w1mqtt's scheduler (the agent's own code: Scheduler + the w1
 * source) takes to read every sensor of `buses` simulated buses of `n` sensors once, with
 * bulk conversion (the default) and without (`bulk_read: never`, one by one), next to the
 * physical floor conv_time + n × t_read, and (one bus) next to a minimal reader on the same bus.
 */

export interface CycleResult {
  readonly n: number;
  readonly buses: number;
  readonly resolution: Resolution;
  readonly floorMs: number;
  readonly bulkMs: number;
  readonly oneByOneMs: number;
  /** The minimal reader (minimalCycle below), one bus only; its median over the same reps. */
  readonly minimalMs?: number;
}

export async function measureCycles(n: number, resolution: Resolution, opts: { buses?: number; tReadMs: number; reps: number }): Promise<CycleResult> {
  const buses = opts.buses ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-bench-'));
  const sim = new BusSimulator({
    dir,
    tReadMs: opts.tReadMs,
    buses: Array.from({ length: buses }, (_, b) => ({ sensors: sensorNames(n, b + 1).map((name, i) => ({ name, resolution, milli: 20_000 + i * 62.5 })) })),
  });
  try {
    await sim.start();
    const source = new W1SysfsSource({ path: sim.w1Path });
    const devices = await source.list();
    const once = async (bulk: BulkMode): Promise<number> => {
      let done = 0;
      let t1 = 0;
      let allRead!: () => void;
      const finished = new Promise<void>((resolve) => (allRead = resolve));
      // Stopped at the last result itself, not at the next tick of a polling loop.
      const onResult = (): void => {
        if (++done < devices.length) return;
        t1 = performance.now();
        allRead();
      };
      const scheduler = new Scheduler({ clock: systemClock, log: silent, bulk, onResult });
      scheduler.setSensors(devices.map((device) => ({ key: device.id.sysfs, device, source, intervalMs: 3_600_000 })));
      const t0 = performance.now();
      scheduler.start();
      await finished;
      const ms = t1 - t0;
      await scheduler.stop();
      return ms;
    };
    const bulk: number[] = [];
    const minimal: number[] = [];
    const names = sensorNames(n, 1);
    // Alternated, so a slow moment of this machine falls on both readers alike.
    for (let i = 0; i < opts.reps; i++) {
      bulk.push(await once('auto'));
      if (buses !== 1) continue;
      // Every read of a minimal cycle must come from its bulk conversion (read_scratchpad only), or it measured something else.
      const fast0 = (await sim.stats()).buses[0]?.fastReads ?? 0;
      minimal.push(minimalCycle(sim.w1Path, names));
      const fast = ((await sim.stats()).buses[0]?.fastReads ?? 0) - fast0;
      if (fast !== n) throw new Error(`bench: the minimal reader's cycle had ${fast} of ${n} reads answered from its bulk conversion`);
    }
    const oneByOneMs = await once('never');
    const stats = await sim.stats();
    for (const b of stats.buses) if (b.rejectedTriggers > 0) throw new Error('bench: the simulator rejected a trigger');
    return { n, buses, resolution, floorMs: convTimeMs('28', resolution) + n * opts.tReadMs, bulkMs: median(bulk), oneByOneMs, ...(minimal.length > 0 && { minimalMs: median(minimal) }) };
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The least any reader can do for one cycle of a bus: write "trigger\n" to the master's
 * therm_bulk_read, then read each sensor's w1_slave in turn, nothing else (no parsing, no
 * publishing, no scheduler). Synchronous fs calls on this thread: no thread-pool handoff and
 * no event loop between two reads, so nothing of the reader's own sits between the bus's
 * transactions. Milliseconds from the trigger's write to the last read's return.
 */
function minimalCycle(devices: string, names: readonly string[]): number {
  const t0 = performance.now();
  writeFileSync(`${devices}/${masterName(0)}/therm_bulk_read`, 'trigger\n');
  for (const name of names) readFileSync(`${devices}/${name}/w1_slave`);
  return performance.now() - t0;
}
