import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readingFromW1Slave } from '../../src/onewire/scratchpad.js';
import { BusSimulator, type SimBusSpec, type SimStats } from '../../src/sim/bus-simulator.js';
import type { Device } from '../../src/readings/device.js';
import { W1SysfsSource } from '../../src/sources/w1-sysfs.js';
import { waitFor } from '../helpers/until.js';

/**
 * The simulator is what the bench measures against and what the bulk-conversion tests
 * trust, so its kernel behaviour is checked here: blocking, the bus mutex, therm_bulk_read
 * and the injected faults. Nothing here looks at a clock.
 */

const A = '28-000000010001';
const B = '28-000000010002';
const C = '28-000000010003';
const SEQ = '42-000000010004';

async function simulator(t: TestContext, buses: SimBusSpec[], opts: { refuseTrigger?: boolean } = {}): Promise<{ sim: BusSimulator; source: W1SysfsSource; devices: Map<string, Device> }> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-sim-'));
  const sim = new BusSimulator({ dir, buses, ...opts });
  t.after(async () => {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await sim.start();
  const source = new W1SysfsSource({ path: sim.w1Path });
  const devices = new Map((await source.list()).map((d) => [d.name, d]));
  return { sim, source, devices };
}

const oneBus: SimBusSpec[] = [
  {
    sensors: [
      { name: A, milli: 21_000 },
      { name: B, milli: 22_500, resolution: 9 },
      { name: C, milli: -5_125 },
      { name: SEQ, milli: 18_062 },
    ],
  },
];

/** The simulator's counters, once `ok` holds for them. */
function statsWhen(sim: BusSimulator, what: string, ok: (s: SimStats) => boolean): Promise<SimStats> {
  const probe = async (): Promise<SimStats | undefined> => {
    const s = await sim.stats();
    return ok(s) ? s : undefined;
  };
  return waitFor(what, probe, 20_000, 10);
}

const bus0 = (s: SimStats) => {
  const b = s.buses[0];
  assert.ok(b);
  return b;
};

test('the tree looks like /sys/bus/w1/devices and every read blocks until the bus has answered it', { timeout: 60_000 }, async (t) => {
  const { sim, devices, source } = await simulator(t, oneBus);
  assert.deepEqual([...devices.keys()].sort(), [A, B, C, SEQ]);
  assert.equal(devices.get(A)?.bus, await sim.masterPath(0));
  assert.equal(await readFile(join(sim.w1Path, 'w1_bus_master1', 'w1_master_slave_count'), 'latin1'), '4\n');
  assert.equal(await readFile(join(sim.w1Path, B, 'resolution'), 'latin1'), '9\n');
  assert.equal(await readFile(join(sim.w1Path, B, 'conv_time'), 'latin1'), '95\n');

  let firstDone = false;
  const first = source.read(devices.get(A) as Device).then((r) => ((firstDone = true), r));
  await statsWhen(sim, 'the first read to reach the bus', (s) => bus0(s).queued === 1);
  assert.equal(firstDone, false, 'the reader is still blocked while the bus converts');
  const second = source.read(devices.get(C) as Device);
  await statsWhen(sim, 'the second read to queue behind the first', (s) => bus0(s).maxQueued === 2);
  assert.deepEqual(await first, { ok: true, milli: 21_000 });
  assert.deepEqual(await second, { ok: true, milli: -5_125 });
  const stats = bus0(await sim.stats());
  assert.equal(stats.singleConversions, 2);
  assert.equal(stats.fastReads, 0);
  assert.equal(await readFile(join(sim.w1Path, B, 'temperature'), 'latin1'), '22500\n');
});

test('therm_bulk_read: "trigger\\n" converts every bulk-capable sensor at once; reads then return that conversion', { timeout: 60_000 }, async (t) => {
  const { sim, devices, source } = await simulator(t, oneBus);
  const read = (n: string) => source.read(devices.get(n) as Device);
  assert.deepEqual(await source.convertAll(await sim.masterPath(0)), { ok: true });
  // The kernel's write returns when the conversion is over; a FIFO write returns at once.
  await statsWhen(sim, 'the conversion to end', (s) => bus0(s).bulkConversions === 1 && bus0(s).queued === 0);
  await sim.setTemperature(A, 30_000); // after the conversion: not what a fast read returns
  assert.deepEqual(await read(A), { ok: true, milli: 21_000 });
  assert.deepEqual(await read(B), { ok: true, milli: 22_500 });
  assert.deepEqual(await read(C), { ok: true, milli: -5_125 });
  assert.deepEqual(await read(SEQ), { ok: true, milli: 18_062 });
  let stats = bus0(await sim.stats());
  assert.equal(stats.bulkConversions, 1);
  assert.equal(stats.fastReads, 3);
  assert.equal(stats.singleConversions, 1, 'the DS28EA00 is not bulk-capable: it converted on its own');
  assert.deepEqual(await read(A), { ok: true, milli: 30_000 }, 'the next read converts again');

  // Anything but exactly "trigger\n" is ignored (the kernel logs err=-22 and returns success).
  await writeFile(join(await sim.masterPath(0), 'therm_bulk_read'), 'trigger');
  stats = await statsWhen(sim, 'the short write to be rejected', (s) => bus0(s).rejectedTriggers === 1).then(bus0);
  assert.equal(stats.bulkConversions, 1);
  await read(B);
  assert.equal(bus0(await sim.stats()).singleConversions, 3);
});

test('injected faults read like the kernel prints them, for as many reads as asked', { timeout: 60_000 }, async (t) => {
  const { sim, devices, source } = await simulator(t, oneBus);
  const read = () => source.read(devices.get(A) as Device);
  await sim.inject(A, 'empty', 1);
  assert.deepEqual(await read(), { ok: false, error: { code: 'empty_read' } });
  assert.deepEqual(await read(), { ok: true, milli: 21_000 });
  await sim.inject(A, 'crc', 1);
  const crc = await readFile(join(sim.w1Path, A, 'w1_slave'), 'latin1');
  assert.match(crc, /^ff ff ff ff ff ff ff ff ff : crc=c9 NO\n/);
  assert.equal(readingFromW1Slave(crc).ok, false);
  await sim.inject(A, 'power_on', 2);
  assert.equal(await readFile(join(sim.w1Path, A, 'w1_slave'), 'latin1'), '50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n');
  assert.equal(await readFile(join(sim.w1Path, A, 'temperature'), 'latin1'), '85000\n');
  await sim.inject(A, 'insufficient_power');
  const low = await read();
  assert.equal(!low.ok && low.error.code, 'insufficient_power');
  await sim.inject(A, 'none');
  assert.deepEqual(await read(), { ok: true, milli: 21_000 });
});

test('a sensor can vanish from the bus and come back', { timeout: 60_000 }, async (t) => {
  const { sim, devices, source } = await simulator(t, oneBus);
  await sim.remove(C);
  assert.ok(!(await source.list()).some((d) => d.name === C));
  assert.deepEqual(await source.read(devices.get(C) as Device), { ok: false, error: { code: 'not_present' } });
  await sim.restore(C);
  assert.ok((await source.list()).some((d) => d.name === C));
  assert.deepEqual(await source.read(devices.get(C) as Device), { ok: true, milli: -5_125 });
});

test('a refused therm_bulk_read is EACCES for a non-root agent, a permanent failure', { timeout: 60_000 }, async (t) => {
  const { sim } = await simulator(t, oneBus, { refuseTrigger: true });
  const file = join(await sim.masterPath(0), 'therm_bulk_read');
  assert.equal((await stat(file)).mode & 0o777, 0o444);
  // As root the mode would not stop us: ask as nobody, the way the service runs.
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (process.getuid?.() === 0) await chmod(join(sim.w1Path, '..'), 0o755);
  const probe = `import('${new URL('../../src/sources/w1-sysfs.ts', import.meta.url).href}').then(async (m) => console.log(JSON.stringify(await new m.W1SysfsSource({ path: '' }).convertAll(process.argv[1]))))`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe, await sim.masterPath(0)], { ...asNobody, encoding: 'utf8', timeout: 30_000 });
  const result = JSON.parse(out.stdout.trim().split('\n').pop() ?? 'null') as { ok: boolean; permanent?: boolean; error?: { errno?: string } };
  assert.equal(result.ok, false, out.stderr);
  assert.equal(result.permanent, true);
  assert.equal(result.error?.errno, 'EACCES');
  assert.equal(bus0(await sim.stats()).bulkConversions, 0);
});

test('after stop() the files are plain and empty: a late reader gets an empty read, never a hang', { timeout: 60_000 }, async (t) => {
  const { sim } = await simulator(t, oneBus);
  await sim.stop();
  assert.equal(await readFile(join(sim.w1Path, A, 'w1_slave'), 'latin1'), '');
  assert.ok((await stat(join(sim.w1Path, A, 'w1_slave'))).isFile());
});
