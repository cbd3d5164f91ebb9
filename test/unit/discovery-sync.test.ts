import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { configSchema, type Config } from '../../src/config/schema.js';
import { discoveryTopic, uniqueId } from '../../src/mqtt/discovery.js';
import { HomeAssistantDiscovery } from '../../src/mqtt/discovery-sync.js';
import type { MessageHandler } from '../../src/mqtt/publisher.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { planSensors } from '../../src/sampling/plan.js';
import type { Device, Source } from '../../src/sources/source.js';

/** In-process stand-in for the MQTT connection: records publishes, lets the test deliver messages. */
function fakeLink() {
  const published: { topic: string; payload: string }[] = [];
  const handlers = new Map<string, MessageHandler>();
  return {
    published,
    deliver(filter: string, topic: string, payload: string) {
      handlers.get(filter)?.(topic, Buffer.from(payload), true);
    },
    link: {
      publish: async (topic: string, payload: string) => void published.push({ topic, payload }),
      subscribe: (filter: string, handler: MessageHandler) => void handlers.set(filter, handler),
    },
  };
}

const source: Source = { name: 'w1:/x', list: async () => [], read: async () => ({ ok: true, milli: 0 }), close: async () => {} };
function device(name: string): Device {
  const id = parseDeviceId(name)!;
  return { id, name, bus: 'b', chip: 'DS18B20' };
}
const KITCHEN = '28-0316a2792dff';
const SPARE = '28-0316a27a1c44';
const topicOf = (name: string) => discoveryTopic('homeassistant', uniqueId(parseDeviceId(name)!, 'temperature'));

function setup(yaml: object) {
  let config: Config = configSchema.parse({ homeassistant: { enabled: true }, mqtt: { client_id: 'pi' }, ...yaml });
  const f = fakeLink();
  const discovery = new HomeAssistantDiscovery({ link: f.link, log: pino({ level: 'silent' }), config: () => config, version: '0' });
  discovery.start();
  const plan = (...names: string[]) => discovery.update(planSensors(config, [{ source, devices: names.map(device) }]).sensors);
  return { ...f, discovery, plan, setConfig: (y: object) => (config = configSchema.parse({ homeassistant: { enabled: true }, mqtt: { client_id: 'pi' }, ...y })) };
}

test('every polled sensor gets its config; HA coming online gets them again', { timeout: 5000 }, () => {
  const s = setup({ sensors: { [KITCHEN]: { topic: 'home/kitchen/temperature', name: 'Kitchen' } } });
  s.plan(KITCHEN, SPARE);
  assert.deepEqual(s.published.map((p) => p.topic).sort(), [topicOf(KITCHEN), topicOf(SPARE)].sort());
  s.published.length = 0;
  s.deliver('homeassistant/status', 'homeassistant/status', 'offline');
  assert.equal(s.published.length, 0);
  s.deliver('homeassistant/status', 'homeassistant/status', 'online');
  assert.equal(s.published.length, 2);
});

test('a sensor taken out of sensors.yaml loses its entity; one only gone from the bus keeps it', { timeout: 5000 }, () => {
  const s = setup({ unmapped: 'ignore', sensors: { [KITCHEN]: 'home/kitchen/temperature', [SPARE]: 'home/spare/temperature' } });
  s.plan(KITCHEN, SPARE);
  s.published.length = 0;
  s.plan(KITCHEN); // SPARE unplugged, still in sensors.yaml
  assert.deepEqual(s.published.map((p) => p.topic), [topicOf(KITCHEN)]);
  s.published.length = 0;
  s.setConfig({ unmapped: 'ignore', sensors: { [KITCHEN]: 'home/kitchen/temperature' } }); // and now removed from it
  s.plan(KITCHEN);
  assert.deepEqual(s.published.find((p) => p.topic === topicOf(SPARE)), { topic: topicOf(SPARE), payload: '' });
});

test('disabled, or unlisted with unmapped: ignore → removed; an unmapped sensor gone from the bus is kept', { timeout: 5000 }, () => {
  const s = setup({ sensors: {} });
  s.plan(KITCHEN, SPARE); // both unmapped: home/1wire/<id>/temperature
  s.published.length = 0;
  s.plan(KITCHEN);
  assert.equal(s.published.some((p) => p.topic === topicOf(SPARE)), false, 'an unmapped sensor may come back');
  s.setConfig({ sensors: { [KITCHEN]: { enabled: false } } });
  s.plan();
  assert.deepEqual(s.published.filter((p) => p.payload === '').map((p) => p.topic), [topicOf(KITCHEN)]);
});

test('a config left from an earlier run is removed when its sensor left sensors.yaml, and only if it is ours', { timeout: 5000 }, () => {
  const s = setup({ sensors: { [KITCHEN]: 'home/kitchen/temperature' } });
  const filter = 'homeassistant/sensor/+/config';
  const old = (status: string, state: string) => JSON.stringify({ state_topic: state, availability: [{ topic: status }] });
  // Mapped before (its state topic is not an unmapped one), now absent from sensors.yaml: removed.
  s.deliver(filter, topicOf(SPARE), old('home/w1mqtt/pi/status', 'home/spare/temperature'));
  assert.deepEqual(s.published, [{ topic: topicOf(SPARE), payload: '' }]);
  s.published.length = 0;
  // Another agent's config (other status topic), and anyone else's topic: left alone.
  s.deliver(filter, topicOf('28-0000054c2ba1'), old('home/w1mqtt/other-pi/status', 'x/y'));
  s.deliver(filter, 'homeassistant/sensor/zigbee_0xabc_temperature/config', old('home/w1mqtt/pi/status', 'x/y'));
  // Still listed (absent from the bus for now): kept.
  s.deliver(filter, topicOf(KITCHEN), old('home/w1mqtt/pi/status', 'home/kitchen/temperature'));
  assert.deepEqual(s.published, []);
});

test('a DS2438 is one HA device with an entity per measurement; a measurement turned off loses its entity', { timeout: 5000 }, () => {
  const [BATH, KEY] = ['26-000000019a3b', '01-0000efbeadde'];
  const bathroom = { name: 'Bathroom', humidity: 'home/bath/humidity' };
  const sensors = { [BATH]: bathroom, [KEY]: 'home/door/key' };
  const s = setup({ sensors });
  s.plan(BATH, KEY);
  const topic = (name: string, m: string) => discoveryTopic('homeassistant', uniqueId(parseDeviceId(name)!, m), m === 'presence' ? 'binary_sensor' : 'sensor');
  assert.deepEqual(s.published.map((p) => p.topic).sort(), [topic(BATH, 'temperature'), topic(BATH, 'humidity'), topic(BATH, 'voltage'), topic(BATH, 'vdd'), topic(KEY, 'presence')].sort());
  const bath = s.published.filter((p) => p.topic.includes('_26')).map((p) => JSON.parse(p.payload) as { device: { name: string }; state_topic: string });
  assert.deepEqual([...new Set(bath.map((c) => c.device.name))], ['Bathroom'], 'one device, named once, for the four entities');
  assert.ok(bath.some((c) => c.state_topic === 'home/bath/humidity'));

  s.published.length = 0;
  s.setConfig({ sensors: { ...sensors, [BATH]: { ...bathroom, vdd: false } } });
  s.plan(BATH, KEY);
  assert.deepEqual(s.published.filter((p) => p.payload === '').map((p) => p.topic), [topic(BATH, 'vdd')]);
  assert.equal(s.published.filter((p) => p.payload !== '').length, 4);
});
