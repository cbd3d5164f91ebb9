import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffConfig } from '../../src/config/diff.js';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { deviceKind } from '../../src/readings/kinds.js';
import { readingPayload } from '../../src/mqtt/payload.js';
import { PresenceState } from '../../src/health/presence.js';
import { formatPayload } from '../../src/mqtt/topics.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { planSensors } from '../../src/agent/plan.js';
import { retiredTopics } from '../../src/agent/retire.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';

/** sensors.yaml → one planned entry per device and measurement, and what each publishes. */

const source: Source = { name: 'w1:/x', list: async () => [], read: async () => ({ ok: true, milli: 0 }), close: async () => {} };

function device(name: string, chip = 'DS18B20'): Device {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { id, name, bus: 'b', chip };
}

const DEVICES = [device('28-0316a2792dff'), device('26-000000019a3b', 'DS2438'), device('01-0000efbeadde', 'DS2401')];

function plan(sensors: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return planSensors(configSchema.parse({ sensors, ...extra }), [{ source, devices: DEVICES }]);
}

function config(yaml: string): Config {
  const r = parseConfigText(yaml, 'sensors.yaml');
  assert.ok(r.ok, !r.ok ? r.problems.map(formatProblem).join('\n') : '');
  return r.config;
}

test('plan: unmapped, each measurement gets its own key and <base>/1wire/<id>/<suffix>', () => {
  const p = plan({});
  assert.deepEqual(
    p.routes.map((s) => [s.key, s.displayId, s.topic, s.measurement.name]),
    [
      ['28-0316a2792dff', '28-0316a2792dff', 'home/1wire/28-0316a2792dff/temperature', 'temperature'],
      ['26-000000019a3b', '26-000000019a3b', 'home/1wire/26-000000019a3b/temperature', 'temperature'],
      ['26-000000019a3b/humidity', '26-000000019a3b/humidity', 'home/1wire/26-000000019a3b/humidity', 'humidity'],
      ['26-000000019a3b/voltage', '26-000000019a3b/voltage', 'home/1wire/26-000000019a3b/voltage', 'voltage'],
      ['26-000000019a3b/vdd', '26-000000019a3b/vdd', 'home/1wire/26-000000019a3b/vdd', 'vdd'],
      ['01-0000efbeadde', '01-0000efbeadde', 'home/1wire/01-0000efbeadde/presence', 'presence'],
    ],
  );
  const thermometer = p.routes[0];
  assert.equal(thermometer?.device, DEVICES[0], 'a thermometer is read through the very device its source listed');
  assert.equal(p.routes.find((s) => s.key === '26-000000019a3b/vdd')?.device.measurement?.name, 'vdd');
});

test('plan: per-measurement topics, names, intervals, offsets and false, in either notation', () => {
  const p = planSensors(
    config(`
interval: 30s
sensors:
  26.3B9A01000000:
    topic: home/bath/temperature
    name: Bathroom
    interval: 1m
    offset: -0.5
    humidity:
      topic: home/bath/humidity
      offset: 2.5
      interval: 10s
    voltage: home/bath/vad
    vdd: false
  01-0000efbeadde: home/door/ibutton
`),
    [{ source, devices: DEVICES }],
  );
  const by = Object.fromEntries(p.routes.map((s) => [s.displayId, s]));
  assert.deepEqual(Object.keys(by), ['28-0316a2792dff', '26.3B9A01000000', '26.3B9A01000000/humidity', '26.3B9A01000000/voltage', '01-0000efbeadde']);
  assert.deepEqual(
    ['26.3B9A01000000', '26.3B9A01000000/humidity', '26.3B9A01000000/voltage'].map((k) => [by[k]?.topic, by[k]?.label, by[k]?.intervalMs, by[k]?.offset, by[k]?.mapped]),
    [
      ['home/bath/temperature', 'Bathroom', 60_000, -0.5, true],
      ['home/bath/humidity', 'Bathroom humidity', 10_000, 2.5, true],
      ['home/bath/vad', 'Bathroom voltage (VAD)', 60_000, 0, true],
    ],
  );
  assert.equal(by['01-0000efbeadde']?.topic, 'home/door/ibutton', 'a topic alone is the main measurement: presence');
  assert.equal(by['01-0000efbeadde']?.measurement.quantity, 'presence');
  assert.equal(by['26.3B9A01000000/humidity']?.key, '26-000000019a3b/humidity');
});

test('plan: the main measurement by its own key, a disabled one, and a listed device that is absent', () => {
  const p = planSensors(
    config(`
sensors:
  26-000000019a3b:
    temperature: { enabled: false }
    humidity: { name: Bad humidity }
  01-0000efbeadde:
    presence: { topic: home/door/ibutton, name: Key }
  01-000000000042: home/door/spare-key
  28-0316a2792dff: { enabled: false }
`),
    [{ source, devices: DEVICES }],
  );
  assert.deepEqual(
    p.routes.map((s) => [s.displayId, s.topic, s.label]),
    [
      ['26-000000019a3b/humidity', 'home/1wire/26-000000019a3b/humidity', 'Bad humidity'],
      ['26-000000019a3b/voltage', 'home/1wire/26-000000019a3b/voltage', undefined],
      ['26-000000019a3b/vdd', 'home/1wire/26-000000019a3b/vdd', undefined],
      ['01-0000efbeadde', 'home/door/ibutton', 'Key'],
    ],
  );
  assert.deepEqual(p.missing, ['01-000000000042']);
  assert.deepEqual(
    p.absent.map((a) => [a.displayId, a.topic, a.measurement.name]),
    [['01-000000000042', 'home/door/spare-key', 'presence']],
  );
});

test('sensors.yaml: a measurement the chip lacks, a topic set twice, presence offset, unknown chips: each at its line:col', () => {
  const r = parseConfigText(
    [
      'sensors:',
      '  28-0316a2792dff:',
      '    humidity: home/x',
      '  26-000000019a3b:',
      '    topic: a/b',
      '    temperature: c/d',
      '    presence: e/f',
      '  01-0000efbeadde:',
      '    offset: 1',
      '  29-000000000001: a/b',
      '',
    ].join('\n'),
    'sensors.yaml',
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map(formatProblem), [
    'sensors.yaml:3:15 sensors.28-0316a2792dff.humidity: a DS18B20 has no humidity: it measures temperature',
    'sensors.yaml:6:18 sensors.26-000000019a3b.temperature: the temperature topic is already set by topic: above; keep one of them',
    'sensors.yaml:7:15 sensors.26-000000019a3b.presence: a DS2438 has no presence: it measures temperature, humidity, voltage, vdd',
    'sensors.yaml:9:13 sensors.01-0000efbeadde.offset: a DS2401 measures presence, which has no offset',
    'sensors.yaml:10:3 sensors.29-000000000001: "29-000000000001" is a DS2408, which w1mqtt does not read; it reads DS18S20 (10), DS1822 (22), DS18B20 (28), DS1825/MAX31850 (3B), DS28EA00 (42), DS2438 (26), DS2401 (01)',
  ]);
});

test('sensors.yaml: mistakes inside a measurement are located, not one "invalid input" for the sensor', () => {
  const r = parseConfigText(['sensors:', '  26-000000019a3b:', '    humidity:', '      intervall: 5s', '    voltage: 5', '    vdd: { topic: home/# }', ''].join('\n'), 'sensors.yaml');
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map(formatProblem), [
    'sensors.yaml:4:7 sensors.26-000000019a3b.humidity.intervall: unknown key "intervall" (did you mean "interval"?)',
    'sensors.yaml:5:14 sensors.26-000000019a3b.voltage: expected a topic string, false, or a mapping with topic, name, interval, offset, enabled',
    'sensors.yaml:6:19 sensors.26-000000019a3b.vdd.topic: a topic to publish to cannot contain +, # or NUL',
  ]);
  const typo = parseConfigText('sensors:\n  26-000000019a3b:\n    humdity: a/b\n', 'sensors.yaml');
  assert.ok(!typo.ok);
  assert.match(formatProblem(typo.problems[0] ?? assert.fail()), /:3:5 .*unknown key "humdity" \(did you mean "humidity"\?\)/);
});

test('live reload: a changed measurement is a sensor change, and a measurement turned off retires its topic', () => {
  const before = config('sensors:\n  26-000000019a3b:\n    humidity: home/bath/humidity\n');
  const after = config('sensors:\n  26-000000019a3b:\n    humidity: home/bath/humidity\n    vdd: false\n');
  assert.deepEqual(diffConfig(before, after).changed, [{ id: '26-000000019a3b', fields: ['vdd'] }]);
  const planned = planSensors(before, [{ source, devices: DEVICES }]).routes;
  assert.deepEqual(retiredTopics(planned, after), ['home/1wire/26-000000019a3b/vdd']);
  const moved = config('sensors:\n  26-000000019a3b:\n    humidity: home/bathroom/humidity\n');
  assert.deepEqual(retiredTopics(planned, moved), ['home/bath/humidity']);
});

test('payloads: a temperature exactly as before; humidity, voltage and presence plain and JSON', () => {
  const [temperature, humidity, voltage] = deviceKind('26')?.measurements ?? [];
  const [presence] = deviceKind('01')?.measurements ?? [];
  assert.ok(temperature && humidity && voltage && presence);
  const time = new Date('2026-01-02T03:04:05.000Z');
  const input = (value: number) => ({ value, time, sensor: '26-000000019a3b', name: 'Bathroom' });
  const plain = configSchema.parse({}).mqtt;
  const json = configSchema.parse({ mqtt: { payload: 'json' } }).mqtt;
  assert.equal(readingPayload(plain, temperature, input(21.84375)), '21.84');
  assert.equal(readingPayload(json, temperature, input(21.84375)), formatPayload('json', 2, { celsius: 21.84375, time, sensor: '26-000000019a3b', name: 'Bathroom' }));
  assert.equal(readingPayload(plain, humidity, input(49.83118)), '49.8');
  assert.equal(readingPayload(plain, voltage, input(2.35)), '2.35');
  assert.equal(readingPayload(plain, presence, input(1)), 'online');
  assert.equal(readingPayload(plain, presence, input(0)), 'offline');
  assert.deepEqual(JSON.parse(readingPayload(json, humidity, input(49.83118))), { humidity: 49.8, unit: '%', time: '2026-01-02T03:04:05.000Z', sensor: '26-000000019a3b', name: 'Bathroom' });
  assert.deepEqual(JSON.parse(readingPayload(json, voltage, input(4.98))), { voltage: 4.98, unit: 'V', time: '2026-01-02T03:04:05.000Z', sensor: '26-000000019a3b', name: 'Bathroom' });
  assert.deepEqual(JSON.parse(readingPayload(json, presence, { ...input(0), name: undefined })), { presence: 'offline', time: '2026-01-02T03:04:05.000Z', sensor: '26-000000019a3b' });
});

test('presence: a topic is news when its state changes, and again after it was forgotten', () => {
  const state = new PresenceState();
  assert.equal(state.update('t', true), true, 'the first state is published (once at start)');
  assert.equal(state.update('t', true), false);
  assert.equal(state.update('t', false), true);
  assert.equal(state.update('t', false), false);
  state.forget('t');
  assert.equal(state.update('t', false), true);
});
