import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { systemClock } from '../../src/system/clock.js';
import { Scheduler, type ScheduledSensor } from '../../src/sampling/scheduler.js';
import type { ReadResult } from '../../src/readings/read-result.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';
import { memoryLog } from '../helpers/memory-log.js';
import { until } from '../helpers/until.js';

/** A source whose reads of one device hang until released, like a read stuck in the kernel. */
class HangingSource implements Source {
  readonly name = 'hanging';
  readonly calls: string[] = [];
  hang = new Set<string>();
  #release: (() => void)[] = [];
  async list(): Promise<Device[]> {
    return [];
  }
  async read(device: Device): Promise<ReadResult> {
    this.calls.push(device.name);
    if (this.hang.has(device.name)) await new Promise<void>((resolve) => this.#release.push(resolve));
    return { ok: true, milli: 20_000 };
  }
  release(): void {
    for (const r of this.#release.splice(0)) r();
  }
  async close(): Promise<void> {}
}

function sensor(source: Source, name: string, bus: string): ScheduledSensor {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { key: id.sysfs, device: { id, name, bus, chip: 'DS18B20' }, source, intervalMs: 30 };
}

test('a read that never returns: its bus gets no new read until it does, other buses go on', { timeout: 20_000 }, async (t) => {
  const { log, find } = memoryLog();
  const source = new HangingSource();
  source.hang.add('28-000000000001');
  const results: [string, ReadResult][] = [];
  const s = new Scheduler({ clock: systemClock, log, readTimeoutMs: 40, onResult: (x, r) => void results.push([x.device.name, r]) });
  t.after(() => s.stop());
  s.setSensors([sensor(source, '28-000000000001', 'b1'), sensor(source, '28-000000000002', 'b1'), sensor(source, '28-000000000003', 'b2')]);
  s.start();
  const of = (name: string) => results.filter(([n]) => n === name).map(([, r]) => (r.ok ? 'ok' : r.error.code));
  await until('bus b1 to be skipped a few times', () => of('28-000000000002').filter((c) => c === 'bus_stuck').length >= 3);
  assert.deepEqual(of('28-000000000001').slice(0, 1), ['timeout']);
  assert.equal(source.calls.filter((n) => n !== '28-000000000003').length, 1, 'one read on b1, the stuck one: nothing piled on it');
  // b1 stays stuck until released below: b2 reading on meanwhile is the point (waited for, as a loaded machine may run it late).
  await until('bus b2 to keep reading', () => of('28-000000000003').filter((c) => c === 'ok').length >= 3);
  assert.deepEqual(s.busStats().map((b) => [b.bus, b.stuck]), [['b1', true], ['b2', false]]);
  assert.equal(find('a read did not return: no more reads on this bus until it does').length, 1);

  source.hang.clear();
  source.release();
  await until('b1 to read again', () => of('28-000000000002').at(-1) === 'ok');
  const returned = find('the stuck read returned: reading this bus again');
  assert.equal(returned.length, 1);
  assert.ok(Number(returned[0]?.['skippedReads']) >= 3);
  assert.equal(find('a read did not return: no more reads on this bus until it does').length, 1, 'logged once when it starts');
});

test('stuck reads holding every thread: the other buses fail with no_thread instead of waiting unseen', { timeout: 20_000 }, async (t) => {
  const { log, find } = memoryLog();
  const source = new HangingSource();
  source.hang.add('28-000000000001');
  source.hang.add('28-000000000002');
  const results: [string, ReadResult][] = [];
  const s = new Scheduler({ clock: systemClock, log, readTimeoutMs: 40, maxBlocking: 2, onResult: (x, r) => void results.push([x.device.name, r]) });
  t.after(() => s.stop());
  s.setSensors([sensor(source, '28-000000000001', 'b1'), sensor(source, '28-000000000002', 'b2'), sensor(source, '28-000000000003', 'b3')]);
  s.start();
  const of = (name: string) => results.filter(([n]) => n === name).map(([, r]) => (r.ok ? 'ok' : r.error.code));
  await until('bus b3 to report no_thread a few times', () => of('28-000000000003').filter((c) => c === 'no_thread').length >= 3);
  const starving = 'every thread for 1-Wire reads is held by a stuck read: no bus can be read until one returns';
  assert.equal(find(starving).length, 1, 'logged once when it starts');
  assert.ok(
    of('28-000000000003').slice(of('28-000000000003').indexOf('no_thread')).every((c) => c === 'no_thread'),
    'nothing read on b3 while both threads are held',
  );

  source.hang.clear();
  source.release();
  await until('b3 to read again', () => of('28-000000000003').at(-1) === 'ok');
  const freed = find('a thread for 1-Wire reads is free again');
  assert.equal(freed.length, 1);
  assert.ok(Number(freed[0]?.['skippedReads']) >= 3);
  assert.equal(find(starving).length, 1);
});
