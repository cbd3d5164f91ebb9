import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { deviceKind } from '../../src/readings/kinds.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { FaultTracker } from '../../src/health/fault-tracker.js';
import type { Route } from '../../src/mqtt/route.js';
import { History } from '../../src/web/history.js';
import { busLabel, LiveState, type AgentView } from '../../src/web/state.js';

const T = { timeout: 10_000 };
const SOURCE = 'w1:/sys/bus/w1/devices';

function planned(id: string, extra: Partial<Route> = {}): Route {
  const deviceId = parseDeviceId(id);
  assert.ok(deviceId);
  return {
    key: deviceId.sysfs,
    device: { id: deviceId, name: deviceId.sysfs, bus: '/sys/devices/w1_bus_master1', chip: 'DS18B20' },
    intervalMs: 10_000,
    topic: `home/1wire/${deviceId.sysfs}/temperature`,
    displayId: id,
    label: undefined,
    offset: 0,
    mapped: false,
    measurement: deviceKind(deviceId.family)?.measurements[0] ?? assert.fail(`${id}: no kind`),
    queue: 'latest',
    ...extra,
  };
}

function fakeAgent(sensors: Route[], more: Partial<Omit<AgentView, 'faults'>> = {}): AgentView & { faults: FaultTracker } {
  const config = configSchema.parse({ sensors: { '28.FF2D79A21603': { topic: 'home/kitchen/temperature', name: 'Kitchen' } } });
  return {
    config,
    connected: true,
    faults: new FaultTracker(pino({ level: 'silent' })),
    sensors: () => sensors,
    devices: () => sensors.map((s) => ({ source: SOURCE, device: s.device })),
    busStats: () => [{ bus: '/sys/devices/w1_bus_master1', sensors: sensors.length, lastCycleMs: 812 }],
    ...more,
  };
}

test('state: ok, then stale after three missed polls; waiting before the first reading', T, () => {
  const kitchen = planned('28.FF2D79A21603', { label: 'Kitchen', topic: 'home/kitchen/temperature', offset: -0.3, mapped: true });
  const agent = fakeAgent([kitchen]);
  const state = new LiveState(agent, new History());
  assert.equal(state.sensor(kitchen, 0).state, 'waiting');
  state.record(kitchen, 1000, 21.437 - 0.3);
  const ok = state.sensor(kitchen, 1000);
  assert.deepEqual(
    { name: ok.name, id: ok.id, sysfs: ok.sysfs, owfs: ok.owfs, value: ok.value, text: ok.text, at: ok.at, state: ok.state, bus: ok.bus, source: ok.source },
    { name: 'Kitchen', id: '28.FF2D79A21603', sysfs: '28-0316a2792dff', owfs: '28.FF2D79A21603', value: 21.137, text: '21.14', at: 1000, state: 'ok', bus: 'w1_bus_master1', source: SOURCE },
  );
  assert.equal(state.sensor(kitchen, 1000 + 30_000).state, 'ok');
  assert.equal(state.sensor(kitchen, 1000 + 30_001).state, 'stale');
});

test('state: a fault shows its reason and how often, and keeps the last good value', T, () => {
  const s = planned('28-01192e4f6a10');
  const agent = fakeAgent([s]);
  const state = new LiveState(agent, new History());
  state.record(s, 0, 20);
  for (let i = 1; i <= 3; i++) {
    agent.faults.failure(s.displayId, { code: 'power_on_reset', milli: 85_000 }, i * 10_000);
    state.record(s, i * 10_000, null);
  }
  const view = state.sensor(s, 30_000);
  assert.equal(view.state, 'fault');
  assert.equal(view.fault?.summary, 'power-on 85 °C, 3 times');
  assert.match(view.fault?.message ?? '', /power-on value 85 °C/);
  assert.equal(view.fault?.since, 10_000);
  assert.equal(view.text, '20.00', 'the last good value stays');
  assert.equal(view.lastReadAt, 30_000);
  agent.faults.success(s.displayId, 40_000);
  state.record(s, 40_000, 20.5);
  assert.equal(state.sensor(s, 40_000).state, 'ok');
  assert.equal(state.sensor(s, 40_000).fault, null);
});

test('status: broker, buses with a bulk slot, outbox once it exists, unmapped devices as a pasteable snippet', T, () => {
  const mapped = planned('28.FF2D79A21603', { mapped: true });
  const a = planned('28-0316a27a1c44');
  const b = planned('10-000802b4a1c3');
  const ignored = planned('22-00000053e8a1');
  const agent = fakeAgent([mapped, a, b], {
    devices: () => [mapped, a, b, ignored].map((s) => ({ source: SOURCE, device: s.device })),
  });
  const status = new LiveState(agent, new History()).status(5);
  assert.equal(status.now, 5);
  assert.deepEqual(status.broker, { connected: true, target: 'bundled broker on 127.0.0.1:1883' });
  assert.equal(status.outbox, null);
  assert.deepEqual(status.buses, [{ bus: '/sys/devices/w1_bus_master1', label: 'w1_bus_master1', sensors: 3, lastCycleMs: 812, bulk: null }]);
  assert.deepEqual(
    status.unmapped.map((u) => [u.sysfs, u.topic]),
    [
      ['28-0316a27a1c44', 'home/1wire/28-0316a27a1c44/temperature'],
      ['10-000802b4a1c3', 'home/1wire/10-000802b4a1c3/temperature'],
      ['22-00000053e8a1', null], // not polled (unmapped: ignore): no topic
    ],
  );
  const parsed = parseConfigText(status.snippet, 'sensors.yaml');
  assert.ok(parsed.ok, status.snippet);
  assert.deepEqual(Object.keys(parsed.config.sensors), ['28-0316a27a1c44', '10-000802b4a1c3', '22-00000053e8a1']);
  assert.match(status.snippet, /^ {2}28-0316a27a1c44: {2}# DS18B20 on w1_bus_master1$/m);

  // Later features slot in: a bus that reports bulk conversion, an outbox with a depth.
  const later = fakeAgent([a], {
    busStats: () => [{ bus: 'owfs:/mnt/1wire', sensors: 1, lastCycleMs: undefined, bulk: true }],
    outboxStats: () => ({ queued: 42 }),
    connected: false,
  });
  const s2 = new LiveState(later, new History()).status(0);
  assert.deepEqual(s2.buses, [{ bus: 'owfs:/mnt/1wire', label: 'owfs:/mnt/1wire', sensors: 1, lastCycleMs: null, bulk: true }]);
  assert.deepEqual(s2.outbox, { depth: 42 });
  assert.equal(s2.broker.connected, false);
});

test('status: an external broker is shown without its password', T, () => {
  const agent = fakeAgent([]);
  const config = configSchema.parse({ mqtt: { url: 'mqtts://pi:s3cret@broker.lan:8883' } });
  const status = new LiveState({ ...agent, config }, new History()).status(0);
  assert.equal(status.broker.target, 'mqtts://broker.lan:8883');
  assert.equal(busLabel('/sys/devices/w1_bus_master2'), 'w1_bus_master2');
});
