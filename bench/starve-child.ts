import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../src/system/clock.js';
import { Scheduler } from '../src/sampling/scheduler.js';
import { W1SysfsSource } from '../src/sources/w1-sysfs.js';
import { percentile, silent } from './lib.js';

/**
 * One process reading every sensor of the simulated buses once, the naive way (a
 * Promise.all over readFile) or w1mqtt's (the Scheduler), while an unrelated task stats a
 * file every 20 ms: how long that fs call waits for a thread-pool thread is the starvation.
 * Run by starve.ts with the UV_THREADPOOL_SIZE under test; prints one JSON line.
 */
const [mode = 'naive', w1Path = ''] = process.argv.slice(2);
const source = new W1SysfsSource({ path: w1Path });
const devices = await source.list();

const waits: number[] = [];
let probing = true;
const probe = (async () => {
  while (probing) {
    const t = performance.now();
    await stat(join(w1Path, '..'));
    waits.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
})();

const t0 = performance.now();
if (mode === 'naive') {
  await Promise.all(devices.map((d) => readFile(join(w1Path, d.name, 'w1_slave'), 'latin1')));
} else {
  let done = 0;
  const scheduler = new Scheduler({ clock: systemClock, log: silent, onResult: () => void done++ });
  scheduler.setSensors(devices.map((device) => ({ key: device.id.sysfs, device, source, intervalMs: 3_600_000 })));
  scheduler.start();
  while (done < devices.length) await new Promise((r) => setTimeout(r, 1));
  await scheduler.stop();
}
const cycleMs = performance.now() - t0;
probing = false;
await probe;
process.stdout.write(`${JSON.stringify({ cycleMs, p50: percentile(waits, 50), max: Math.max(...waits), probes: waits.length })}\n`);
