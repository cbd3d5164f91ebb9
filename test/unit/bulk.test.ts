import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import type { BulkMode } from '../../src/sampling/bulk.js';
import { Scheduler, type ScheduledSensor } from '../../src/sampling/scheduler.js';
import type { ConvertResult, ReadResult } from '../../src/readings/read-result.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';
import { until } from '../helpers/until.js';

/** A bus-wide source that records what the scheduler asks of it, in order. */
class BulkSource implements Source {
  readonly name = 'fake-bulk';
  readonly ops: string[] = [];
  active = 0;
  maxActive = 0;
  convertResults: ConvertResult[] = [];
  /** Reads of these names wait until release() is called. */
  readonly held = new Map<string, () => void>();
  holdNames = new Set<string>();
  async list(): Promise<Device[]> {
    return [];
  }
  async convertAll(bus: string): Promise<ConvertResult> {
    this.ops.push(`convert:${bus}`);
    return this.convertResults.shift() ?? { ok: true };
  }
  async read(device: Device): Promise<ReadResult> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.ops.push(`read:${device.name}`);
    if (this.holdNames.has(device.name)) await new Promise<void>((resolve) => this.held.set(device.name, resolve));
    else await new Promise((r) => setImmediate(r));
    this.active--;
    return { ok: true, milli: 20_000 };
  }
  async close(): Promise<void> {}
}

function sensor(source: Source, name: string, bus: string, intervalMs: number, parasite?: boolean): ScheduledSensor {
  const id = parseDeviceId(name);
  assert.ok(id);
  const device: Device = { id, name, bus, chip: 'x', ...(parasite !== undefined && { parasite }) };
  return { key: id.sysfs, device, source, intervalMs };
}

function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function setup(bulk: BulkMode = 'auto', extra: { readTimeoutMs?: number; maxBlocking?: number } = {}) {
  const clock = new FakeClock();
  const source = new BulkSource();
  const { log, lines } = capture();
  const results: [string, ReadResult][] = [];
  const scheduler = new Scheduler({ clock, log, bulk, ...extra, onResult: (s, r) => void results.push([s.device.name, r]) });
  return { clock, source, lines, results, scheduler };
}

const B = ['28-000000000001', '28-000000000002', '28-000000000003'];
const DS28EA00 = '42-000000000004';

test('due sensors of one bus share one conversion; the DS28EA00 is read after, on its own', { timeout: 10_000 }, async () => {
  const { clock, source, scheduler } = setup();
  scheduler.setSensors([sensor(source, DS28EA00, 'b1', 10_000), ...B.map((n) => sensor(source, n, 'b1', 10_000))]);
  scheduler.start();
  await clock.advance(0);
  assert.deepEqual(source.ops, ['convert:b1', ...B.map((n) => `read:${n}`), `read:${DS28EA00}`]);
  await clock.advance(20_000);
  assert.equal(source.ops.filter((o) => o.startsWith('convert')).length, 3, 'one conversion per cycle');
  assert.equal(source.ops.filter((o) => o.startsWith('read')).length, 12);
  await scheduler.stop();
});

test('a lone due sensor is read without a bus-wide conversion', { timeout: 10_000 }, async () => {
  const { clock, source, scheduler } = setup();
  scheduler.setSensors([sensor(source, B[0] ?? '', 'b1', 10_000), sensor(source, DS28EA00, 'b1', 10_000)]);
  scheduler.start();
  await clock.advance(10_000);
  assert.ok(!source.ops.some((o) => o.startsWith('convert')), source.ops.join());
  await scheduler.stop();
});

test('a sensor found later is put on the bus grid and joins the next shared conversion', { timeout: 10_000 }, async () => {
  const { clock, source, scheduler } = setup();
  const early = B.slice(0, 2).map((n) => sensor(source, n, 'b1', 10_000));
  scheduler.setSensors(early);
  scheduler.start();
  await clock.advance(3_000);
  scheduler.setSensors([...early, sensor(source, B[2] ?? '', 'b1', 10_000)]);
  await clock.advance(0); // the newcomer is read at once, alone
  source.ops.length = 0;
  await clock.advance(7_000); // t = 10 s: all three are due together
  assert.deepEqual(source.ops, ['convert:b1', ...B.map((n) => `read:${n}`)]);
  await scheduler.stop();
});

test('sensors due within a tenth of their interval join a conversion that happens anyway', { timeout: 10_000 }, async () => {
  const { clock, source, scheduler } = setup();
  // c falls due every 9.5 s, a and b every 10 s: at 9.5 s they are 0.5 s from due and come along.
  scheduler.setSensors([sensor(source, B[0] ?? '', 'b1', 10_000), sensor(source, B[1] ?? '', 'b1', 10_000), sensor(source, B[2] ?? '', 'b1', 9_500)]);
  scheduler.start();
  await clock.advance(0);
  source.ops.length = 0;
  await clock.advance(9_500);
  assert.deepEqual(source.ops, ['convert:b1', `read:${B[2]}`, `read:${B[0]}`, `read:${B[1]}`]);
  source.ops.length = 0;
  await clock.advance(500); // a and b were read early: they keep their grid and are not due again yet
  assert.deepEqual(source.ops, []);
  await clock.advance(9_000); // 19 s: c due, a and b due at 20 s: together again
  assert.deepEqual(source.ops, ['convert:b1', `read:${B[2]}`, `read:${B[0]}`, `read:${B[1]}`]);
  await scheduler.stop();
});

test('a refused trigger falls back to one-by-one reads for good, logged once', { timeout: 10_000 }, async () => {
  const { clock, source, lines, scheduler } = setup();
  source.convertResults = [{ ok: false, permanent: true, error: { code: 'io_error', errno: 'EACCES', message: 'permission denied' } }];
  scheduler.setSensors(B.map((n) => sensor(source, n, 'b1', 10_000)));
  scheduler.start();
  await clock.advance(30_000);
  assert.equal(source.ops.filter((o) => o.startsWith('convert')).length, 1, 'tried once');
  assert.equal(source.ops.filter((o) => o.startsWith('read')).length, 12, 'every sensor still read every cycle');
  const refused = lines.filter((l) => String(l['msg']).startsWith('bulk conversion refused'));
  assert.equal(refused.length, 1);
  assert.equal(refused[0]?.['level'], 40);
  assert.deepEqual(scheduler.busStats().map((b) => b.bulkRefused), [true]);
  await scheduler.stop();
});

test('a transient conversion failure is logged when it starts and when it ends', { timeout: 10_000 }, async () => {
  const { clock, source, lines, scheduler } = setup();
  const eio: ConvertResult = { ok: false, permanent: false, error: { code: 'io_error', errno: 'EIO', message: 'i/o error' } };
  source.convertResults = [eio, eio, eio, { ok: true }];
  scheduler.setSensors(B.map((n) => sensor(source, n, 'b1', 10_000)));
  scheduler.start();
  await clock.advance(50_000);
  assert.equal(source.ops.filter((o) => o.startsWith('convert')).length, 6, 'tried every cycle');
  assert.equal(lines.filter((l) => String(l['msg']).startsWith('bulk conversion failed')).length, 1);
  assert.equal(lines.filter((l) => l['msg'] === 'bulk conversion works again').length, 1);
  assert.equal(source.ops.filter((o) => o.startsWith('read')).length, 18);
  await scheduler.stop();
});

test('parasite power: auto reads one by one (said once), always converts anyway, never never does', { timeout: 10_000 }, async () => {
  for (const mode of ['auto', 'always', 'never'] as const) {
    const { clock, source, lines, scheduler } = setup(mode);
    scheduler.setSensors(B.map((n, i) => sensor(source, n, 'b1', 10_000, i === 1)));
    scheduler.start();
    await clock.advance(20_000);
    const converts = source.ops.filter((o) => o.startsWith('convert')).length;
    assert.equal(converts, mode === 'always' ? 3 : 0, mode);
    const said = lines.filter((l) => String(l['msg']).startsWith('bus has parasite-powered sensors')).length;
    assert.equal(said, mode === 'auto' ? 1 : 0, mode);
    await scheduler.stop();
  }
});

test('a timed-out read keeps its bus: nothing else is read there until the kernel call returns', { timeout: 20_000 }, async () => {
  const { clock, source, results, scheduler } = setup('never', { readTimeoutMs: 30 });
  source.holdNames.add(B[0] ?? '');
  scheduler.setSensors(B.map((n) => sensor(source, n, 'b1', 60_000)));
  scheduler.start();
  await clock.advance(0);
  await until('three results', () => results.length === 3);
  const codes = results.map(([n, r]) => [n, r.ok ? 'ok' : r.error.code]);
  // The hung one times out; the others are not read but reported (bus_stuck), so they show as failing.
  assert.deepEqual(codes, [
    [B[0], 'timeout'],
    [B[1], 'bus_stuck'],
    [B[2], 'bus_stuck'],
  ]);
  await flush();
  assert.deepEqual(source.ops, [`read:${B[0]}`], 'no read piled on the hung one');
  source.holdNames.clear();
  source.held.get(B[0] ?? '')?.();
  await flush();
  await clock.advance(60_000);
  await until('six results', () => results.length === 6);
  assert.deepEqual(results.slice(3).map(([, r]) => r.ok), [true, true, true], 'read again once the kernel call returned');
  assert.equal(source.maxActive, 1);
  await scheduler.stop();
});

test('buses share the thread-pool budget fairly: never more blocking calls than allowed, none starved', { timeout: 20_000 }, async () => {
  const { clock, source, results, scheduler } = setup('never', { maxBlocking: 2 });
  const names = ['28-00000000000a', '28-00000000000b', '28-00000000000c'];
  for (const n of names) source.holdNames.add(n);
  scheduler.setSensors(names.map((n, i) => sensor(source, n, `bus${i}`, 60_000)));
  scheduler.start();
  await clock.advance(0);
  await until('two reads held', () => source.held.size === 2);
  await flush();
  assert.equal(source.active, 2, 'the third bus waits for a permit');
  const first = [...source.held.keys()];
  for (const n of first) source.held.get(n)?.();
  await until('the third read held', () => source.held.size === 3);
  source.held.get(names.find((n) => !first.includes(n)) ?? '')?.();
  await until('three results', () => results.length === 3);
  assert.equal(source.maxActive, 2);
  await scheduler.stop();
});

test('re-planning while a cycle runs (discovery every 30 s) reads no sensor twice', { timeout: 20_000 }, async () => {
  const { clock, source, results, scheduler } = setup('never');
  source.holdNames.add(B[0] ?? '');
  const sensors = B.map((n) => sensor(source, n, 'b1', 60_000));
  scheduler.setSensors(sensors);
  scheduler.start();
  await clock.advance(0);
  await until('the first read held', () => source.held.size === 1);
  scheduler.setSensors(B.map((n) => sensor(source, n, 'b1', 60_000)));
  source.held.get(B[0] ?? '')?.();
  await until('three results', () => results.length === 3);
  await clock.advance(1_000);
  assert.deepEqual(source.ops, B.map((n) => `read:${n}`));
  await scheduler.stop();
});
