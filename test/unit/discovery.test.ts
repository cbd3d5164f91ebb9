import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statsPayload } from '../../src/agent/stats.js';
import {
  agentDiscoveryMessages,
  agentIdentifier,
  DEFAULT_SUPPORT_URL,
  discoveryMessages,
  discoveryTopic,
  parseDiscoveryTopic,
  supportUrlOf,
  uniqueId,
  type DiscoveryContext,
} from '../../src/homeassistant/discovery.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { checkDiscovery, checkSensorDiscovery } from '../helpers/ha-schema.js';

const id = parseDeviceId('28-0316a2792dff')!;
const ctx: DiscoveryContext = { prefix: 'homeassistant', payload: 'plain', decimals: 2, qos: 1, statusTopic: 'home/w1mqtt/pi/status', version: '1.2.3' };

test('a thermometer gives one retained config that HA accepts, identified by its ROM', { timeout: 5000 }, () => {
  const [m, ...rest] = discoveryMessages({ id, chip: 'DS18B20', name: 'Kitchen', measurements: [{ quantity: 'temperature', unit: '°C', topic: 'home/kitchen/temperature' }] }, ctx);
  assert.equal(rest.length, 0);
  assert.ok(m);
  // ROM in wire order: family 28, serial ff2d79a21603, CRC.
  assert.equal(m.uniqueId, `1wire_28ff2d79a21603${Buffer.from(id.rom).toString('hex').slice(14)}_temperature`);
  assert.equal(m.topic, `homeassistant/sensor/${m.uniqueId}/config`);
  assert.deepEqual(checkSensorDiscovery(m.topic, m.payload), []);
  const c = JSON.parse(m.payload) as Record<string, unknown>;
  assert.equal(c['name'], null); // the entity is the device: HA shows "Kitchen"
  assert.equal(c['state_topic'], 'home/kitchen/temperature');
  assert.equal(c['device_class'], 'temperature');
  assert.equal(c['unit_of_measurement'], '°C');
  assert.equal(c['state_class'], 'measurement');
  assert.equal(c['suggested_display_precision'], 2);
  assert.equal('value_template' in c, false);
  assert.deepEqual(c['availability'], [{ topic: 'home/w1mqtt/pi/status', payload_available: 'online', payload_not_available: 'offline' }]);
  assert.deepEqual(c['device'], {
    identifiers: [`1wire_${Buffer.from(id.rom).toString('hex')}`],
    name: 'Kitchen',
    manufacturer: 'Maxim Integrated (Analog Devices)',
    model: 'DS18B20',
    model_id: 'family 0x28',
    serial_number: '28-0316a2792dff',
  });
});

test('JSON payloads get a value_template; a per-sensor availability topic is added to the agent one', { timeout: 5000 }, () => {
  const [m] = discoveryMessages(
    { id, chip: 'DS18B20', name: 'Kitchen', availabilityTopic: 'home/kitchen/temperature/availability', measurements: [{ quantity: 'temperature', unit: '°C', topic: 't' }] },
    { ...ctx, payload: 'json' },
  );
  const c = JSON.parse(m!.payload) as Record<string, unknown>;
  assert.equal(c['value_template'], '{{ value_json.temperature }}');
  assert.deepEqual((c['availability'] as { topic: string }[]).map((a) => a.topic), ['home/w1mqtt/pi/status', 'home/kitchen/temperature/availability']);
  assert.equal(c['availability_mode'], 'all');
  assert.deepEqual(checkSensorDiscovery(m!.topic, m!.payload), []);
});

test('a device with several measurements (DS2438) gives one named entity per quantity, each valid for HA', { timeout: 5000 }, () => {
  const ds2438 = parseDeviceId('26-000001f2a3b4')!;
  const messages = discoveryMessages(
    {
      id: ds2438,
      chip: 'DS2438',
      name: 'Cellar',
      measurements: [
        { quantity: 'temperature', unit: '°C', topic: 'home/cellar/temperature' },
        { quantity: 'humidity', unit: '%', topic: 'home/cellar/humidity' },
        { quantity: 'voltage', unit: 'V', topic: 'home/cellar/vad' },
      ],
    },
    { ...ctx, payload: 'json' },
  );
  assert.deepEqual(messages.map((m) => (JSON.parse(m.payload) as { name: string }).name), ['Temperature', 'Humidity', 'Voltage']);
  assert.deepEqual(messages.map((m) => (JSON.parse(m.payload) as { value_template: string }).value_template), ['{{ value_json.temperature }}', '{{ value_json.humidity }}', '{{ value_json.voltage }}']);
  for (const m of messages) assert.deepEqual(checkSensorDiscovery(m.topic, m.payload), [], m.topic);
  assert.equal(new Set(messages.map((m) => m.uniqueId)).size, 3);
});

test('the schema fixture catches what HA would refuse', { timeout: 5000 }, () => {
  assert.notDeepEqual(checkSensorDiscovery('homeassistant/sensor/x/config', JSON.stringify({ state_topic: 't', device_class: 'temperature', unit_of_measurement: 'C' })), []);
  assert.notDeepEqual(checkSensorDiscovery('homeassistant/sensor/x/config', JSON.stringify({ state_topic: 't', colour: 'red' })), []);
  assert.notDeepEqual(checkSensorDiscovery('homeassistant/sensor/a.b/config', JSON.stringify({ state_topic: 't' })), []);
  assert.notDeepEqual(checkSensorDiscovery('homeassistant/sensor/x/config', JSON.stringify({ state_topic: 't', device: { name: 'n' } })), []);
  assert.deepEqual(checkSensorDiscovery('homeassistant/sensor/x/config', JSON.stringify({ state_topic: 't' })), []);
});

test('own discovery topics are recognised, anyone else\'s are not', { timeout: 5000 }, () => {
  const unique = uniqueId(id, 'temperature');
  const rom = Buffer.from(id.rom).toString('hex');
  assert.deepEqual(parseDiscoveryTopic('ha', discoveryTopic('ha', unique)), { rom, measurement: 'temperature' });
  assert.equal(parseDiscoveryTopic('ha', 'ha/sensor/zigbee_0x123_temperature/config'), undefined);
  assert.equal(parseDiscoveryTopic('ha', `ha/binary_sensor/${unique}/config`), undefined);
  assert.equal(parseDiscoveryTopic('homeassistant', discoveryTopic('ha', unique)), undefined);
});

test('a DS2438\'s two voltages are two entities; a DS2401 is a presence binary_sensor on online/offline', { timeout: 5000 }, () => {
  const ds2438 = parseDeviceId('26-000000019a3b')!;
  const voltages = discoveryMessages(
    {
      id: ds2438,
      chip: 'DS2438',
      name: 'Bathroom',
      measurements: [
        { quantity: 'humidity', unit: '%', topic: 'home/bath/humidity', measurement: 'humidity', title: 'humidity', decimals: 1 },
        { quantity: 'voltage', unit: 'V', topic: 'home/bath/vad', measurement: 'voltage', title: 'voltage (VAD)', decimals: 2 },
        { quantity: 'voltage', unit: 'V', topic: 'home/bath/vdd', measurement: 'vdd', title: 'supply voltage (VDD)', decimals: 2 },
      ],
    },
    ctx,
  );
  const rom = Buffer.from(ds2438.rom).toString('hex');
  assert.deepEqual(voltages.map((m) => m.uniqueId), [`1wire_${rom}_humidity`, `1wire_${rom}_voltage`, `1wire_${rom}_vdd`]);
  const configs = voltages.map((m) => JSON.parse(m.payload) as Record<string, unknown>);
  assert.deepEqual(configs.map((c) => [c['name'], c['device_class'], c['suggested_display_precision']]), [['Humidity', 'humidity', 1], ['Voltage (VAD)', 'voltage', 2], ['Supply voltage (VDD)', 'voltage', 2]]);
  for (const m of voltages) {
    assert.deepEqual(checkSensorDiscovery(m.topic, m.payload), [], m.topic);
    assert.deepEqual(parseDiscoveryTopic('homeassistant', m.topic), { rom, measurement: m.uniqueId.split('_').pop() });
  }

  const ds2401 = parseDeviceId('01-0000efbeadde')!;
  const [presence, ...none] = discoveryMessages({ id: ds2401, chip: 'DS2401', name: 'Front door key', measurements: [{ quantity: 'presence', unit: '', topic: 'home/door/ibutton', measurement: 'presence' }] }, { ...ctx, payload: 'json' });
  assert.ok(presence && none.length === 0);
  const keyRom = Buffer.from(ds2401.rom).toString('hex');
  assert.equal(presence.topic, `homeassistant/binary_sensor/1wire_${keyRom}_presence/config`);
  const c = JSON.parse(presence.payload) as Record<string, unknown>;
  // HA's MQTT binary_sensor: payload_on/payload_off match what the agent publishes; no unit or state class.
  assert.deepEqual(
    [c['name'], c['device_class'], c['payload_on'], c['payload_off'], c['state_topic'], c['value_template']],
    [null, 'presence', 'online', 'offline', 'home/door/ibutton', '{{ value_json.presence }}'],
  );
  assert.equal('unit_of_measurement' in c || 'state_class' in c, false);
  assert.deepEqual(parseDiscoveryTopic('homeassistant', presence.topic), { rom: keyRom, measurement: 'presence' });
  assert.equal(parseDiscoveryTopic('homeassistant', `homeassistant/sensor/1wire_${keyRom}_presence/config`), undefined);
});

test('every sensor device names the agent as via_device; origin says who made it and where to ask', { timeout: 5000 }, () => {
  const agentCtx = { ...ctx, agent: agentIdentifier('pi'), supportUrl: 'https://example.org/w1mqtt' };
  const [m] = discoveryMessages({ id, chip: 'DS18B20', name: 'Kitchen', measurements: [{ quantity: 'temperature', unit: '°C', topic: 't' }] }, agentCtx);
  const c = JSON.parse(m!.payload) as { device: Record<string, unknown>; origin: unknown; entity_category?: unknown };
  assert.equal(c.device['via_device'], 'w1mqtt_pi');
  assert.deepEqual(c.origin, { name: 'w1mqtt', sw_version: '1.2.3', support_url: 'https://example.org/w1mqtt' });
  assert.equal(c.entity_category, undefined, 'a temperature is what the sensor is for');
  assert.deepEqual(checkSensorDiscovery(m!.topic, m!.payload), []);
  const [plain] = discoveryMessages({ id, chip: 'DS18B20', name: 'Kitchen', measurements: [{ quantity: 'temperature', unit: '°C', topic: 't' }] }, ctx);
  assert.equal((JSON.parse(plain!.payload) as { origin: { support_url: string } }).origin.support_url, DEFAULT_SUPPORT_URL);
});

test('a DS2438\'s VDD is a diagnostic entity; its VAD, humidity and temperature are not', { timeout: 5000 }, () => {
  const measurements = (['temperature', 'humidity', 'voltage', 'vdd'] as const).map((name) => ({
    quantity: name === 'vdd' ? ('voltage' as const) : name,
    unit: name === 'temperature' ? '°C' : name === 'humidity' ? '%' : 'V',
    topic: `home/bath/${name}`,
    measurement: name,
  }));
  const messages = discoveryMessages({ id: parseDeviceId('26-000000019a3b')!, chip: 'DS2438', name: 'Bathroom', measurements }, ctx);
  assert.deepEqual(
    messages.map((m) => [m.uniqueId.split('_').pop(), (JSON.parse(m.payload) as { entity_category?: string }).entity_category]),
    [['temperature', undefined], ['humidity', undefined], ['voltage', undefined], ['vdd', 'diagnostic']],
  );
  for (const m of messages) assert.deepEqual(checkSensorDiscovery(m.topic, m.payload), [], m.topic);
});

test('the agent is a device of diagnostic entities: its status, and its counters read from the stats JSON', { timeout: 5000 }, () => {
  const stats = 'home/w1mqtt/pi.lan/stats';
  const messages = agentDiscoveryMessages({ clientId: 'pi.lan', host: 'kitchenpi', statsTopic: stats }, { ...ctx, statusTopic: 'home/w1mqtt/pi.lan/status' });
  assert.deepEqual(messages.map((m) => m.topic), [
    'homeassistant/binary_sensor/w1mqtt_pi_lan_status/config',
    'homeassistant/sensor/w1mqtt_pi_lan_readings_ok/config',
    'homeassistant/sensor/w1mqtt_pi_lan_readings_failed/config',
    'homeassistant/sensor/w1mqtt_pi_lan_queue_depth/config',
    'homeassistant/sensor/w1mqtt_pi_lan_last_cycle/config',
  ]);
  const configs = messages.map((m) => JSON.parse(m.payload) as Record<string, unknown>);
  for (const [i, m] of messages.entries()) {
    assert.deepEqual(checkDiscovery(m.topic, m.payload), [], m.topic);
    assert.equal(configs[i]!['entity_category'], 'diagnostic');
    assert.deepEqual(configs[i]!['device'], { identifiers: ['w1mqtt_pi.lan'], name: 'w1mqtt on kitchenpi', manufacturer: 'w1mqtt', model: 'w1mqtt agent', sw_version: '1.2.3' });
  }
  const [status, ...counters] = configs;
  // Connectivity: `offline` shows as disconnected, so the status entity has no availability of its own.
  assert.deepEqual(
    [status!['state_topic'], status!['device_class'], status!['payload_on'], status!['payload_off'], status!['availability']],
    ['home/w1mqtt/pi.lan/status', 'connectivity', 'online', 'offline', undefined],
  );
  for (const c of counters) {
    assert.equal(c['state_topic'], stats);
    assert.deepEqual(c['availability'], [{ topic: 'home/w1mqtt/pi.lan/status', payload_available: 'online', payload_not_available: 'offline' }]);
  }
  // Each template names a field the agent really publishes (agent-stats.ts), as the value HA would show.
  const source = { sensors: () => 3, busStats: () => [{ bus: 'b', sensors: 3, lastCycleMs: 812 }], connected: () => true, published: () => 9, queue: () => ({ depth: 4, dropped: 0, rejected: 0 }) };
  const json = JSON.parse(statsPayload(source, { ok: 7, failed: 2 }, 0, 60_000)) as Record<string, unknown>;
  const render = (template: unknown): unknown => {
    const path = /^\{\{ value_json\.([a-z_.]+) \}\}$/.exec(String(template))?.[1];
    assert.ok(path, String(template));
    return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], json);
  };
  assert.deepEqual(counters.map((c) => [c['name'], render(c['value_template']), c['state_class'], c['unit_of_measurement']]), [
    ['Readings ok', 7, 'total_increasing', undefined],
    ['Readings failed', 2, 'total_increasing', undefined],
    ['Queue depth', 4, 'measurement', undefined],
    ['Last cycle', 812, 'measurement', 'ms'],
  ]);
  // Stats turned off (stats_interval: 0): only the status entity.
  assert.deepEqual(agentDiscoveryMessages({ clientId: 'pi', host: 'h', statsTopic: undefined }, ctx).map((m) => m.uniqueId), ['w1mqtt_pi_status']);
});

test('support_url: package.json\'s homepage, else its repository as a web address, else the project\'s', { timeout: 5000 }, () => {
  assert.equal(supportUrlOf({ homepage: 'https://w1mqtt.example.org', repository: 'https://example.org/r' }), 'https://w1mqtt.example.org');
  assert.equal(supportUrlOf({ repository: { type: 'git', url: 'git+https://example.org/me/w1mqtt.git' } }), 'https://example.org/me/w1mqtt');
  assert.equal(supportUrlOf({ repository: 'github:me/w1mqtt' }), DEFAULT_SUPPORT_URL, 'a shorthand is no address');
  assert.equal(supportUrlOf({ name: 'w1mqtt' }), DEFAULT_SUPPORT_URL);
  assert.equal(supportUrlOf(null), DEFAULT_SUPPORT_URL);
});

test('the schema check knows binary sensors too', { timeout: 5000 }, () => {
  const topic = 'homeassistant/binary_sensor/x/config';
  assert.deepEqual(checkDiscovery(topic, JSON.stringify({ state_topic: 't', device_class: 'connectivity', payload_on: 'online', entity_category: 'diagnostic' })), []);
  assert.notDeepEqual(checkDiscovery(topic, JSON.stringify({ state_topic: 't', unit_of_measurement: 'V' })), []);
  assert.notDeepEqual(checkDiscovery(topic, JSON.stringify({ state_topic: 't', device_class: 'temperature' })), []);
  assert.notDeepEqual(checkDiscovery(topic, JSON.stringify({ state_topic: 't', entity_category: 'config' })), []);
  assert.notDeepEqual(checkDiscovery('homeassistant/sensor/x/config', JSON.stringify({ state_topic: 't', device_class: 'duration', unit_of_measurement: 'parsecs' })), []);
});
