import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resolution } from '../src/onewire/scratchpad-encode.js';
import type { BulkMode } from '../src/sampling/bulk.js';
import { systemClock } from '../src/system/clock.js';
import { Scheduler } from '../src/sampling/scheduler.js';
import { convTimeMs } from '../src/sim/bus-model.js';
import { BusSimulator, sensorNames } from '../src/sim/bus-simulator.js';
import { W1SysfsSource } from '../src/sources/w1-sysfs.js';
import { median, silent } from './lib.js';

/**
 * Bus cycle time: how long w1mqtt's scheduler (the agent's own code: Scheduler + the w1
 * source) takes to read every sensor of `buses` simulated buses of `n` sensors once, with
 * bulk conversion (the default) and without (`bulk_read: never`, one by one), next to the
 * physical floor conv_time + n × t_read.
 */

export interface CycleResult {
  readonly n: number;
  readonly buses: number;
  readonly resolution: Resolution;
  readonly floorMs: number;
  readonly bulkMs: number;
  readonly oneByOneMs: number;
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
    for (let i = 0; i < opts.reps; i++) bulk.push(await once('auto'));
    const oneByOneMs = await once('never');
    const stats = await sim.stats();
    for (const b of stats.buses) if (b.rejectedTriggers > 0) throw new Error('bench: the simulator rejected a trigger');
    return { n, buses, resolution, floorMs: convTimeMs('28', resolution) + n * opts.tReadMs, bulkMs: median(bulk), oneByOneMs };
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
