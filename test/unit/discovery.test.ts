import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discoveryMessages, discoveryTopic, parseDiscoveryTopic, uniqueId, type DiscoveryContext } from '../../src/mqtt/discovery.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { checkSensorDiscovery } from '../helpers/ha-schema.js';

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
