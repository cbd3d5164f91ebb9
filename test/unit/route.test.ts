import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { deviceRoutes, route, sensorMap } from '../../src/mqtt/route.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import type { Device } from '../../src/readings/device.js';
import { deviceKind } from '../../src/readings/kinds.js';
import { calibrated } from '../../src/readings/reading.js';

/** A route is config + device + measurement, with no reader: what the page and discovery are given. */

function device(name: string, chip = 'DS18B20'): Device {
  const id = parseDeviceId(name) ?? assert.fail(name);
  return { id, name, bus: 'b', chip };
}

test('route: a mapped thermometer in OWFS notation, calibrated and queued as configured', () => {
  const config = configSchema.parse({ interval: '30s', sensors: { '28.FF2D79A21603': { topic: 'home/kitchen/temperature', name: 'Kitchen', offset: -0.3, queue: 'all' } } });
  const kitchen = device('28-0316a2792dff');
  const temperature = deviceKind('28')?.measurements[0] ?? assert.fail();
  const r = route(config, kitchen, temperature);
  assert.deepEqual(
    r && { key: r.key, displayId: r.displayId, topic: r.topic, label: r.label, offset: r.offset, mapped: r.mapped, queue: r.queue, intervalMs: r.intervalMs },
    { key: '28-0316a2792dff', displayId: '28.FF2D79A21603', topic: 'home/kitchen/temperature', label: 'Kitchen', offset: -0.3, mapped: true, queue: 'all', intervalMs: 30_000 },
  );
  assert.equal(r?.device, kitchen, 'a thermometer is read through the device as listed');
  assert.ok(!('source' in (r ?? {})), 'no reader on a route');
});

test('route: none for an ignored, a disabled or an unknown device; a DS2438 has one per measurement', () => {
  const ignore = configSchema.parse({ unmapped: 'ignore' });
  assert.deepEqual(deviceRoutes(ignore, device('28-0316a2792dff')), []);
  const disabled = configSchema.parse({ sensors: { '28-0316a2792dff': { enabled: false } } });
  assert.deepEqual(deviceRoutes(disabled, device('28-0316a2792dff')), []);
  assert.deepEqual(deviceRoutes(configSchema.parse({}), device('29-000000000001', 'DS2408')), []);
  const config = configSchema.parse({ sensors: { '26-000000019a3b': { vdd: false } } });
  const routes = deviceRoutes(config, device('26-000000019a3b', 'DS2438'), sensorMap(config));
  assert.deepEqual(
    routes.map((r) => [r.key, r.topic, r.device.measurement?.name]),
    [
      ['26-000000019a3b', 'home/1wire/26-000000019a3b/temperature', 'temperature'],
      ['26-000000019a3b/humidity', 'home/1wire/26-000000019a3b/humidity', 'humidity'],
      ['26-000000019a3b/voltage', 'home/1wire/26-000000019a3b/voltage', 'voltage'],
    ],
  );
});

test('a reading is calibrated once: thousandths to its unit, plus the offset', () => {
  assert.deepEqual(calibrated('28-0316a2792dff', 21_437, -0.3, '°C', 1000), { key: '28-0316a2792dff', value: 21.437 - 0.3, unit: '°C', at: 1000 });
  assert.equal(calibrated('01-0000efbeadde', 1000, 0, '', 5).value, 1, 'a presence is 1 or 0');
});
