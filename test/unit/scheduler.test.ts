import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { alignedNext, Scheduler, type ScheduledSensor } from '../../src/sampling/scheduler.js';
import type { ReadResult } from '../../src/readings/read-result.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A source that records the order and overlap of reads. */
class RecordingSource implements Source {
  readonly name = 'fake';
  readonly reads: string[] = [];
  active = 0;
  maxActive = 0;
  results = new Map<string, ReadResult[]>();
  async list(): Promise<Device[]> {
    return [];
  }
  async read(device: Device): Promise<ReadResult> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.reads.push(device.name);
    await new Promise((r) => setImmediate(r));
    this.active--;
    return this.results.get(device.name)?.shift() ?? { ok: true, milli: 20_000 };
  }
  async close(): Promise<void> {}
}

function sensor(source: Source, name: string, bus: string, intervalMs: number): ScheduledSensor {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { key: id.sysfs, device: { id, name, bus, chip: 'DS18B20' }, source, intervalMs };
}

const silent = pino({ level: 'silent' });

test('reads every sensor right after start, then on each sensor interval', async () => {
  const clock = new FakeClock();
  const source = new RecordingSource();
  const seen: [string, number][] = [];
  const s = new Scheduler({ clock, log: silent, onResult: (x, _r, at) => void seen.push([x.device.name, at]) });
  s.setSensors([sensor(source, '28-000000000001', 'b1', 10_000), sensor(source, '28-000000000002', 'b1', 30_000)]);
  s.start();
  await clock.advance(0);
  assert.deepEqual(seen.map(([n]) => n), ['28-000000000001', '28-000000000002']);
  await clock.advance(30_000);
  const times = (n: string) => seen.filter(([x]) => x === n).map(([, at]) => at);
  assert.deepEqual(times('28-000000000001'), [0, 10_000, 20_000, 30_000]);
  assert.deepEqual(times('28-000000000002'), [0, 30_000]);
  await s.stop();
});

test('never reads two sensors of one bus at once, but buses run side by side', async () => {
  const clock = new FakeClock();
  const bus1 = new RecordingSource();
  const bus2 = new RecordingSource();
  const s = new Scheduler({ clock, log: silent, onResult: () => {} });
  const names = ['28-000000000001', '28-000000000002', '28-000000000003'];
  s.setSensors([...names.map((n) => sensor(bus1, n, 'b1', 5000)), ...names.map((n) => sensor(bus2, n, 'b2', 5000))]);
  s.start();
  await clock.advance(20_000);
  assert.equal(bus1.maxActive, 1);
  assert.equal(bus2.maxActive, 1);
  assert.equal(bus1.reads.length, 15);
  assert.equal(bus2.reads.length, 15);
  await s.stop();
});

test('retries a power-on 85 °C once and reports the retry result', async () => {
  const clock = new FakeClock();
  const source = new RecordingSource();
  source.results.set('28-000000000001', [{ ok: false, error: { code: 'power_on_reset', milli: 85_000 } }, { ok: true, milli: 21_000 }]);
  const results: ReadResult[] = [];
  const s = new Scheduler({ clock, log: silent, onResult: (_x, r) => void results.push(r) });
  s.setSensors([sensor(source, '28-000000000001', 'b1', 10_000)]);
  s.start();
  await clock.advance(0);
  assert.deepEqual(results, [{ ok: true, milli: 21_000 }]);
  assert.equal(source.reads.length, 2);
  await s.stop();
});

test('a sensor added later is read at once; a removed one is not read again', async () => {
  const clock = new FakeClock();
  const source = new RecordingSource();
  const s = new Scheduler({ clock, log: silent, onResult: () => {} });
  const a = sensor(source, '28-000000000001', 'b1', 60_000);
  s.setSensors([a]);
  s.start();
  await clock.advance(1000);
  s.setSensors([a, sensor(source, '28-000000000002', 'b1', 60_000)]);
  await clock.advance(0);
  assert.deepEqual(source.reads, ['28-000000000001', '28-000000000002']);
  s.setSensors([a]);
  await clock.advance(60_000);
  assert.deepEqual(source.reads, ['28-000000000001', '28-000000000002', '28-000000000001']);
  await s.stop();
});

test('a read that throws becomes an io_error result, and polling goes on', async () => {
  const clock = new FakeClock();
  const results: ReadResult[] = [];
  const broken: Source = {
    name: 'broken',
    list: async () => [],
    read: async () => {
      throw new Error('EIO');
    },
    close: async () => {},
  };
  const s = new Scheduler({ clock, log: silent, onResult: (_x, r) => void results.push(r) });
  s.setSensors([sensor(broken, '28-000000000001', 'b1', 1000)]);
  s.start();
  await clock.advance(2000);
  assert.equal(results.length, 3);
  assert.equal(results[0]?.ok, false);
  assert.equal(!results[0]?.ok && results[0]?.error.code, 'io_error');
  await s.stop();
});

test('alignedNext keeps the bus grid and skips missed slots after a stall', () => {
  assert.equal(alignedNext(0, 1000, 500), 1000);
  assert.equal(alignedNext(0, 1000, 3500), 4000);
  assert.equal(alignedNext(0, 1000, 1000), 2000);
  assert.equal(alignedNext(250, 1000, 1000), 1250);
});
