import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { deviceKind } from '../../src/readings/kinds.js';
import { discoveryMessages } from '../../src/homeassistant/discovery.js';
import { deviceOf } from '../../src/homeassistant/sync.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { SensorAvailability } from '../../src/health/availability.js';
import type { Route } from '../../src/mqtt/route.js';
import { memoryLog } from '../helpers/memory-log.js';

test('online at the first good reading, offline after N failures in a row, online again at the next good one', () => {
  const { log, entries } = memoryLog();
  const a = new SensorAvailability(log, 3);
  assert.equal(a.success('28-a', 0), 'online');
  assert.equal(a.success('28-a', 1), undefined);
  assert.equal(a.failure('28-a', 'empty_read', 10), undefined);
  assert.equal(a.failure('28-a', 'crc_mismatch', 20), undefined);
  assert.equal(a.success('28-a', 25), undefined, 'a good reading resets the count');
  assert.equal(a.failure('28-a', 'empty_read', 30), undefined);
  assert.equal(a.failure('28-a', 'timeout', 40), undefined);
  assert.equal(a.failure('28-a', 'io_error', 50), 'offline', 'three in a row, whatever the fault');
  assert.equal(a.failure('28-a', 'io_error', 60), undefined, 'said once');
  assert.equal(a.success('28-a', 100), 'online');
  const lines = entries.map((e) => [e.msg, e['failures'], e['offlineMs'] ?? e['failingMs']]);
  assert.deepEqual(lines, [
    ['sensor marked offline after 3 failed reads in a row', 3, 20],
    ['sensor back online', 4, 50],
  ]);
});

test('a sensor that never read well goes offline too; vanishing says offline once; 0 turns it off', () => {
  const { log } = memoryLog();
  const a = new SensorAvailability(log, 2);
  assert.equal(a.failure('28-b', 'not_present', 0), undefined);
  assert.equal(a.failure('28-b', 'not_present', 1), 'offline');
  assert.equal(a.vanished('28-b'), undefined, 'already offline');
  a.success('28-c', 0);
  assert.equal(a.vanished('28-c'), 'offline');
  const off = new SensorAvailability(log, 0);
  assert.equal(off.success('28-d', 0), undefined);
  assert.equal(off.failure('28-d', 'timeout', 0), undefined);
  assert.equal(off.vanished('28-d'), undefined);
});

test('Home Assistant discovery lists a sensor availability topic after the agent status', () => {
  const id = parseDeviceId('28-0316a2792dff');
  assert.ok(id);
  const measurement = deviceKind(id.family)?.measurements[0] ?? assert.fail('no kind');
  const sensor: Route = { key: id.sysfs, device: { id, name: id.sysfs, bus: 'b', chip: 'DS18B20' }, intervalMs: 1000, topic: 'home/kitchen/temperature', displayId: id.sysfs, label: 'Kitchen', offset: 0, mapped: true, queue: 'latest', measurement };
  assert.equal(deviceOf([sensor]).measurements[0]?.availabilityTopic, undefined, 'unavailable_after: 0 publishes none');
  const device = deviceOf([sensor], true);
  assert.equal(device.measurements[0]?.availabilityTopic, 'home/kitchen/temperature/availability');
  const ctx = { prefix: 'homeassistant', payload: 'plain' as const, decimals: 2, qos: 1 as const, statusTopic: 'home/w1mqtt/pi/status', version: '0' };
  const [config] = discoveryMessages(device, ctx).map((m) => JSON.parse(m.payload) as { availability: { topic: string }[]; availability_mode: string });
  assert.deepEqual(config?.availability.map((a) => a.topic), ['home/w1mqtt/pi/status', 'home/kitchen/temperature/availability']);
  assert.equal(config?.availability_mode, 'all');
});
