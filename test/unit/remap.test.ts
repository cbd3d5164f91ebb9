import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig } from '../../src/config/diff.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { SensorAvailability } from '../../src/health/availability.js';
import { FaultTracker } from '../../src/health/fault-tracker.js';
import { planSensors } from '../../src/agent/plan.js';
import type { Route } from '../../src/mqtt/route.js';
import { replan } from '../../src/agent/replan.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';
import { memoryLog } from '../helpers/memory-log.js';

/**
 * A reload that moves a sensor to another topic (or shows it under another id) keeps the
 * sensor's key: what the agent keeps per key must be said again where the sensor now
 * publishes. The availability bug this covers: a sensor already online stayed silent on
 * its new `<topic>/availability`, so Home Assistant (availability_mode: all) showed the
 * renamed sensor unavailable until a restart.
 */

const source: Source = { name: 'w1:/x', list: async () => [], read: async () => ({ ok: true, milli: 0 }), close: async () => {} };
const LIVING = '28-0316a2792dff';
const GARAGE = '28-0316a27a1c44';
const CELLAR = '28-000000000009';

function device(name: string): Device {
  const id = parseDeviceId(name) ?? assert.fail(name);
  return { id, name, bus: 'b', chip: 'DS18B20' };
}

function plan(sensors: Record<string, unknown>, devices: string[] = [LIVING, GARAGE, CELLAR], extra: Record<string, unknown> = {}): { config: Config; byKey: Map<string, Route>; routes: Route[] } {
  const config = configSchema.parse({ unmapped: 'ignore', ...extra, sensors });
  const planned = planSensors(config, [{ source, devices: devices.map(device) }]).routes;
  return { config, byKey: new Map(planned.map((s) => [s.key, s])), routes: planned };
}

test('replan: a new topic is a move, another notation a rename, taken out of sensors.yaml is dropped, gone from the bus vanished', () => {
  const before = plan({ [LIVING]: 'home/living/temperature', [GARAGE]: 'home/garage/temperature', [CELLAR]: 'home/cellar/temperature' });
  // The living room moves, the garage is written in OWFS notation, the cellar is taken out.
  const after = plan({ [LIVING]: 'home/kitchen/temperature', '28.441C7AA21603': 'home/garage/temperature' });
  const r = replan(before.byKey, after.routes, new Set([LIVING, GARAGE, CELLAR]));
  assert.deepEqual(r.moved.map((m) => [m.sensor.key, m.from, m.sensor.topic]), [[LIVING, 'home/living/temperature', 'home/kitchen/temperature']]);
  assert.deepEqual(r.renamed, [{ from: GARAGE, to: '28.441C7AA21603' }]);
  assert.deepEqual(r.dropped.map((s) => s.key), [CELLAR]);
  assert.deepEqual(r.vanished, []);

  const gone = replan(before.byKey, plan({ [LIVING]: 'home/living/temperature', [GARAGE]: 'home/garage/temperature' }, [LIVING, CELLAR]).routes, new Set([LIVING, CELLAR]));
  assert.deepEqual(gone.vanished.map((s) => s.key), [GARAGE], 'still in sensors.yaml, not on the bus');
  assert.deepEqual(gone.dropped.map((s) => s.key), [CELLAR]);
  assert.deepEqual([gone.moved, gone.renamed], [[], []]);
});

test('replan: two sensors swapping topics both move, so each says its own state on the topic it took', () => {
  const before = plan({ [LIVING]: 'home/a', [GARAGE]: 'home/b' });
  const after = plan({ [LIVING]: 'home/b', [GARAGE]: 'home/a' });
  const r = replan(before.byKey, after.routes, new Set([LIVING, GARAGE]));
  assert.deepEqual(r.moved.map((m) => [m.sensor.key, m.from, m.sensor.topic]), [
    [LIVING, 'home/a', 'home/b'],
    [GARAGE, 'home/b', 'home/a'],
  ]);
});

test('availability: the state a moved sensor says again, forgotten without a word, a threshold changed live', () => {
  const { log, entries } = memoryLog();
  const a = new SensorAvailability(log, 2);
  assert.equal(a.state(LIVING), undefined, 'nothing said yet: nothing to repeat');
  assert.equal(a.success(LIVING, 0), 'online');
  assert.equal(a.success(LIVING, 1), undefined, 'said once...');
  assert.equal(a.state(LIVING), 'online', '...but a moved sensor says it again on its new topic');
  a.failure(GARAGE, 'empty_read', 0);
  assert.equal(a.state(GARAGE), undefined, 'one failure: not offline yet');
  a.failure(GARAGE, 'empty_read', 1);
  assert.equal(a.state(GARAGE), 'offline');

  a.forget(LIVING);
  assert.equal(a.state(LIVING), undefined);
  assert.equal(a.success(LIVING, 2), 'online', 'a forgotten sensor starts afresh');

  a.setThreshold(5);
  assert.equal(a.state(LIVING), 'online', 'a new threshold keeps what is known');
  a.setThreshold(0);
  assert.equal(a.state(LIVING), undefined, 'off: nothing published');
  assert.equal(a.success(LIVING, 3), undefined);
  a.setThreshold(3);
  assert.equal(a.success(LIVING, 4), 'online', 'back on: every sensor says online again at its next good reading');
  assert.equal(entries.filter((e) => e.msg === 'sensor back online').length, 0, 'forgetting is not a recovery');
});

test('faults: a sensor shown under another id keeps its fault and counts; its recovery is logged once, under the new id', () => {
  const { log, find } = memoryLog();
  const f = new FaultTracker(log);
  f.success(GARAGE, 0);
  f.failure(GARAGE, { code: 'empty_read' }, 10);
  f.failure(GARAGE, { code: 'empty_read' }, 20);
  f.rename(GARAGE, '28.441C7AA21603');
  assert.deepEqual(f.health(GARAGE), { ok: 0, failed: 0 });
  const moved = f.health('28.441C7AA21603');
  assert.deepEqual([moved.ok, moved.failed, moved.fault?.code, moved.fault?.count, moved.fault?.since], [1, 2, 'empty_read', 2, 10]);
  f.failure('28.441C7AA21603', { code: 'empty_read' }, 30);
  assert.equal(find(/^sensor fault/).length, 1, 'the same fault, not a new one');
  f.success('28.441C7AA21603', 40);
  assert.deepEqual(find('sensor recovered').map((e) => [e['sensor'], e['failures'], e['durationMs']]), [['28.441C7AA21603', 3, 30]]);
  f.rename('28-000000000001', '28.010000000000CD');
  assert.deepEqual(f.health('28.010000000000CD'), { ok: 0, failed: 0 }, 'renaming an unknown sensor is harmless');
});

test('unavailable_after applies live, like the Home Assistant discovery that lists the availability topics', () => {
  const a = plan({ [LIVING]: 'home/living/temperature' });
  const b = plan({ [LIVING]: 'home/living/temperature' }, undefined, { unavailable_after: 0 });
  const diff = diffConfig(a.config, b.config);
  assert.deepEqual([diff.settings, diff.restart], [['unavailable_after'], []]);
});
