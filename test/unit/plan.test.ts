import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { planSensors } from '../../src/agent/plan.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';

const source: Source = { name: 'w1:/x', list: async () => [], read: async () => ({ ok: true, milli: 0 }), close: async () => {} };
const owfs: Source = { ...source, name: 'owfs:/mnt/1wire' };

function device(name: string): Device {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { id, name, bus: 'b', chip: 'DS18B20' };
}

test('mapped sensors use their topic, either id notation; unmapped go to base/1wire/<id>/temperature', () => {
  const config = configSchema.parse({
    interval: '30s',
    sensors: {
      '28-0316a2792dff': { topic: 'home/kitchen/temperature', name: 'Kitchen', interval: '10s', offset: -0.3 },
      '10.C3A1B4020800': 'home/garage/temperature',
    },
  });
  const plan = planSensors(config, [{ source, devices: [device('28-0316a2792dff'), device('10-000802b4a1c3'), device('22-000000000001')] }]);
  const byId = Object.fromEntries(plan.routes.map((s) => [s.displayId, s]));
  assert.equal(byId['28-0316a2792dff']?.topic, 'home/kitchen/temperature');
  assert.equal(byId['28-0316a2792dff']?.intervalMs, 10_000);
  assert.equal(byId['28-0316a2792dff']?.offset, -0.3);
  assert.equal(byId['28-0316a2792dff']?.label, 'Kitchen');
  assert.equal(byId['10.C3A1B4020800']?.topic, 'home/garage/temperature', 'OWFS key matched the sysfs device');
  assert.equal(byId['22-000000000001']?.topic, 'home/1wire/22-000000000001/temperature');
  assert.equal(byId['22-000000000001']?.intervalMs, 30_000);
  assert.deepEqual(plan.missing, []);
});

test('unmapped: ignore drops devices not in sensors.yaml; missing mapped sensors are reported', () => {
  const config = configSchema.parse({ unmapped: 'ignore', sensors: { '28-0316a2792dff': 'a/b', '28-000000000009': 'c/d' } });
  const plan = planSensors(config, [{ source, devices: [device('28-0316a2792dff'), device('22-000000000001')] }]);
  assert.deepEqual(plan.routes.map((s) => s.displayId), ['28-0316a2792dff']);
  assert.deepEqual(plan.missing, ['28-000000000009']);
});

test('a chip seen by two sources is polled once, through the first', () => {
  const config = configSchema.parse({});
  const plan = planSensors(config, [
    { source, devices: [device('28-0316a2792dff')] },
    { source: owfs, devices: [device('28.FF2D79A21603')] },
  ]);
  assert.equal(plan.routes.length, 1);
  assert.equal(plan.scheduled[0]?.source, source);
});

test('enabled: false skips a sensor', () => {
  const config = configSchema.parse({ sensors: { '28-0316a2792dff': { enabled: false } } });
  const plan = planSensors(config, [{ source, devices: [device('28-0316a2792dff')] }]);
  assert.equal(plan.routes.length, 0);
});
