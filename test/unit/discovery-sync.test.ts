import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema, type Config } from '../../src/config/schema.js';
import { discoveryTopic, uniqueId } from '../../src/homeassistant/discovery.js';
import { HomeAssistantDiscovery, REANNOUNCE_DELAY_MS, REANNOUNCE_GAP_MS } from '../../src/homeassistant/sync.js';
import type { MessageHandler } from '../../src/mqtt/publisher.js';
import { topicMatches } from '../../src/mqtt/topic-match.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { deviceRoutes } from '../../src/mqtt/route.js';
import type { Device } from '../../src/readings/device.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { checkDiscovery } from '../helpers/ha-schema.js';
import { memoryLog } from '../helpers/memory-log.js';

/** In-process stand-in for the MQTT connection: records publishes, lets the test deliver messages to matching filters. */
function fakeLink() {
  const published: { topic: string; payload: string }[] = [];
  const handlers: [string, MessageHandler][] = [];
  return {
    published,
    filters: () => handlers.map(([f]) => f),
    deliver(topic: string, payload: string, retained = false) {
      for (const [filter, handler] of handlers) if (topicMatches(filter, topic)) handler(topic, Buffer.from(payload), retained);
    },
    link: {
      publish: async (topic: string, payload: string) => void published.push({ topic, payload }),
      subscribe: (filter: string, handler: MessageHandler) => void handlers.push([filter, handler]),
    },
  };
}

function device(name: string): Device {
  const id = parseDeviceId(name)!;
  return { id, name, bus: 'b', chip: 'DS18B20' };
}
const KITCHEN = '28-0316a2792dff';
const SPARE = '28-0316a27a1c44';
const topicOf = (name: string) => discoveryTopic('homeassistant', uniqueId(parseDeviceId(name)!, 'temperature'));
const TWINS = 'home/w1mqtt/pi/discovery/';
const AGENT = ['status', 'readings_ok', 'readings_failed', 'queue_depth', 'last_cycle'].map((k) => `homeassistant/${k === 'status' ? 'binary_sensor' : 'sensor'}/w1mqtt_pi_${k}/config`);
const isSensorConfig = (p: { topic: string }) => p.topic.startsWith('homeassistant/sensor/1wire_');

function setup(yaml: object, opts: { random?: () => number } = {}) {
  const parse = (y: object): Config => configSchema.parse({ homeassistant: { enabled: true }, mqtt: { client_id: 'pi' }, ...y });
  let config = parse(yaml);
  const f = fakeLink();
  const clock = new FakeClock();
  const memory = memoryLog('info');
  const discovery = new HomeAssistantDiscovery({ link: f.link, log: memory.log, config: () => config, version: '0', host: 'kitchenpi', clock, random: opts.random ?? (() => 0) });
  discovery.start();
  const plan = (...names: string[]) => discovery.update(names.flatMap((name) => deviceRoutes(config, device(name))));
  const configs = () => f.published.filter((p) => !p.topic.startsWith(TWINS));
  return { ...f, clock, memory, discovery, plan, configs, setConfig: (y: object) => (config = parse(y)) };
}

test('it subscribes to HA\'s status topic and its own records only, never to other integrations\' configs', { timeout: 5000 }, () => {
  const s = setup({});
  assert.deepEqual(s.filters(), ['homeassistant/status', `${TWINS}#`]);
});

test('the agent device comes first, every sensor device hangs under it, each config has its record', { timeout: 5000 }, () => {
  const s = setup({ sensors: { [KITCHEN]: { topic: 'home/kitchen/temperature', name: 'Kitchen' } } });
  s.plan(KITCHEN, SPARE);
  const configs = s.configs();
  assert.deepEqual(configs.slice(0, 5).map((p) => p.topic), AGENT);
  assert.deepEqual(configs.slice(5).map((p) => p.topic).sort(), [topicOf(KITCHEN), topicOf(SPARE)].sort());
  for (const c of configs) assert.deepEqual(checkDiscovery(c.topic, c.payload), [], c.topic);
  const agent = JSON.parse(configs[0]!.payload) as { device: { identifiers: string[]; name: string } };
  assert.equal(agent.device.name, 'w1mqtt on kitchenpi');
  for (const c of configs.slice(5)) assert.equal((JSON.parse(c.payload) as { device: { via_device: string } }).device.via_device, agent.device.identifiers[0]);
  const twin = s.published.find((p) => p.topic === `${TWINS}${topicOf(KITCHEN)}`);
  assert.deepEqual(JSON.parse(twin!.payload), { state_topic: 'home/kitchen/temperature', device: KITCHEN });
  assert.deepEqual(JSON.parse(s.published.find((p) => p.topic === `${TWINS}${AGENT[0]}`)!.payload), { state_topic: 'home/w1mqtt/pi/status' });
});

test('HA\'s birth message: configs again after a random 1–5 s, one re-announce however many births, one log line each end', { timeout: 5000 }, async () => {
  const s = setup({ sensors: {} }, { random: () => 0.5 }); // 0.5 → 3 s
  s.plan(KITCHEN);
  s.published.length = 0;
  s.deliver('homeassistant/status', 'offline');
  s.deliver('homeassistant/status', 'online', true); // retained: HA's state from before, not HA starting now
  await s.clock.advance(10_000);
  assert.equal(s.published.length, 0);
  for (let i = 0; i < 20; i++) s.deliver('homeassistant/status', 'online');
  await s.clock.advance(2_999);
  assert.equal(s.published.length, 0, 'nothing before the random delay');
  await s.clock.advance(1);
  assert.deepEqual(s.configs().map((p) => p.topic).sort(), [...AGENT, topicOf(KITCHEN)].sort(), 'each config once');
  await s.clock.advance(60_000);
  assert.equal(s.configs().length, 6);
  assert.equal(s.memory.find('Home Assistant is online: publishing discovery again').length, 1);
  assert.deepEqual(s.memory.find('Home Assistant discovery published again').map((e) => [e['births'], e['rounds'], e['configs']]), [[20, 1, 6]]);
});

test('births keep coming: at most one re-announce per gap, the next one waits for the gap', { timeout: 5000 }, async () => {
  const s = setup({ sensors: {}, mqtt: { client_id: 'pi', stats_interval: 0 } }, { random: () => 0 }); // 1 s delay, the minimum
  s.plan(KITCHEN);
  s.published.length = 0;
  const rounds: number[] = [];
  const count = () => s.configs().filter((p) => p.topic === AGENT[0]).length;
  for (let t = 0; t < 20_000; t += 250) {
    s.deliver('homeassistant/status', 'online');
    await s.clock.advance(250);
    if (count() > rounds.length) rounds.push(s.clock.now());
  }
  await s.clock.advance(30_000);
  if (count() > rounds.length) rounds.push(s.clock.now());
  assert.ok(rounds.length >= 2, `rounds at ${rounds.join(', ')}`);
  for (let i = 1; i < rounds.length; i++) assert.ok(rounds[i]! - rounds[i - 1]! >= REANNOUNCE_GAP_MS, `rounds at ${rounds.join(', ')}`);
  assert.ok(rounds[0]! >= REANNOUNCE_DELAY_MS.min && rounds[0]! <= REANNOUNCE_DELAY_MS.max + 250);
  // One burst: one line as it starts, one as it ends, with what it covered.
  assert.equal(s.memory.find('Home Assistant is online: publishing discovery again').length, 1);
  const [end, ...more] = s.memory.find('Home Assistant discovery published again');
  assert.equal(more.length, 0);
  assert.deepEqual([end!['births'], end!['rounds']], [80, rounds.length]);
  // A later birth is a new burst.
  s.deliver('homeassistant/status', 'online');
  await s.clock.advance(REANNOUNCE_DELAY_MS.max);
  assert.equal(s.memory.find('Home Assistant is online: publishing discovery again').length, 2);
  assert.equal(count(), rounds.length + 1);
});

test('stop() drops a pending re-announce', { timeout: 5000 }, async () => {
  const s = setup({ sensors: {} });
  s.plan(KITCHEN);
  s.published.length = 0;
  s.deliver('homeassistant/status', 'online');
  s.discovery.stop();
  await s.clock.advance(60_000);
  s.deliver('homeassistant/status', 'online');
  await s.clock.advance(60_000);
  assert.deepEqual(s.published, []);
});

test('a sensor taken out of sensors.yaml loses its entity and record; one only gone from the bus keeps them', { timeout: 5000 }, () => {
  const s = setup({ unmapped: 'ignore', sensors: { [KITCHEN]: 'home/kitchen/temperature', [SPARE]: 'home/spare/temperature' } });
  s.plan(KITCHEN, SPARE);
  s.published.length = 0;
  s.plan(KITCHEN); // SPARE unplugged, still in sensors.yaml
  assert.deepEqual(s.configs().filter(isSensorConfig).map((p) => p.topic), [topicOf(KITCHEN)]);
  assert.equal(s.published.some((p) => p.payload === ''), false);
  s.published.length = 0;
  s.setConfig({ unmapped: 'ignore', sensors: { [KITCHEN]: 'home/kitchen/temperature' } }); // and now removed from it
  s.plan(KITCHEN);
  assert.deepEqual(s.published.filter((p) => p.payload === '').map((p) => p.topic), [topicOf(SPARE), `${TWINS}${topicOf(SPARE)}`]);
});

test('disabled, or unlisted with unmapped: ignore → removed; an unmapped sensor gone from the bus is kept', { timeout: 5000 }, () => {
  const s = setup({ sensors: {} });
  s.plan(KITCHEN, SPARE); // both unmapped: home/1wire/<id>/temperature
  s.published.length = 0;
  s.plan(KITCHEN);
  assert.equal(s.published.some((p) => p.topic === topicOf(SPARE)), false, 'an unmapped sensor may come back');
  s.setConfig({ sensors: { [KITCHEN]: { enabled: false } } });
  s.plan();
  assert.deepEqual(s.configs().filter((p) => p.payload === '').map((p) => p.topic), [topicOf(KITCHEN)]);
});

test('a record left by an earlier run: its entity is removed when its sensor left sensors.yaml, whenever the record arrives', { timeout: 5000 }, () => {
  const s = setup({ sensors: { [KITCHEN]: 'home/kitchen/temperature' } });
  const record = (state: string, rom?: string) => JSON.stringify({ state_topic: state, ...(rom ? { device: rom } : {}) });
  const OTHER = '28-0000054c2ba1';
  // Before the first plan: only noted, judged once the agent knows what it polls.
  s.deliver(`${TWINS}${topicOf(SPARE)}`, record('home/spare/temperature', SPARE), true);
  s.deliver(`${TWINS}${topicOf(KITCHEN)}`, record('home/kitchen/temperature', KITCHEN), true); // still listed, off the bus for now
  assert.equal(s.published.length, 0);
  s.plan();
  assert.deepEqual(s.published.filter((p) => p.payload === '').map((p) => p.topic), [topicOf(SPARE), `${TWINS}${topicOf(SPARE)}`]);
  // After it: at once. An old agent entity (stats since turned off), a config under an old prefix, an unmapped sensor's.
  s.setConfig({ sensors: { [KITCHEN]: 'home/kitchen/temperature' }, mqtt: { client_id: 'pi', stats_interval: 0 } });
  s.plan(KITCHEN);
  s.published.length = 0;
  const oldPrefix = topicOf(KITCHEN).replace(/^homeassistant\//, 'ha-old/');
  s.deliver(`${TWINS}${AGENT[1]}`, record('home/w1mqtt/pi/stats'), true);
  s.deliver(`${TWINS}${oldPrefix}`, record('home/kitchen/temperature', KITCHEN), true);
  s.deliver(`${TWINS}homeassistant/sensor/1wire_x_temperature/config`, record('home/1wire/x/temperature', OTHER), true); // may come back
  s.deliver(`${TWINS}homeassistant/sensor/junk/config`, 'not json', true);
  assert.deepEqual(s.published.filter((p) => p.payload === '').map((p) => p.topic), [AGENT[1], `${TWINS}${AGENT[1]}`, oldPrefix, `${TWINS}${oldPrefix}`]);
  assert.equal(s.published.length, 4);
  // Its own records coming back live change nothing.
  s.published.length = 0;
  s.deliver(`${TWINS}${AGENT[0]}`, record('home/w1mqtt/pi/status'));
  s.deliver(`${TWINS}${topicOf(KITCHEN)}`, record('home/kitchen/temperature', KITCHEN));
  assert.equal(s.published.length, 0);
});

test('a DS2438 is one HA device with an entity per measurement; a measurement turned off loses its entity', { timeout: 5000 }, () => {
  const [BATH, KEY] = ['26-000000019a3b', '01-0000efbeadde'];
  const bathroom = { name: 'Bathroom', humidity: 'home/bath/humidity' };
  const sensors = { [BATH]: bathroom, [KEY]: 'home/door/key' };
  const s = setup({ sensors });
  s.plan(BATH, KEY);
  const topic = (name: string, m: string) => discoveryTopic('homeassistant', uniqueId(parseDeviceId(name)!, m), m === 'presence' ? 'binary_sensor' : 'sensor');
  const sensorConfigs = () => s.configs().filter((p) => p.topic.includes('/1wire_'));
  assert.deepEqual(sensorConfigs().map((p) => p.topic).sort(), [topic(BATH, 'temperature'), topic(BATH, 'humidity'), topic(BATH, 'voltage'), topic(BATH, 'vdd'), topic(KEY, 'presence')].sort());
  const bath = sensorConfigs().filter((p) => p.topic.includes('_26')).map((p) => JSON.parse(p.payload) as { device: { name: string }; state_topic: string });
  assert.deepEqual([...new Set(bath.map((c) => c.device.name))], ['Bathroom'], 'one device, named once, for the four entities');
  assert.ok(bath.some((c) => c.state_topic === 'home/bath/humidity'));

  s.published.length = 0;
  s.setConfig({ sensors: { ...sensors, [BATH]: { ...bathroom, vdd: false } } });
  s.plan(BATH, KEY);
  assert.deepEqual(s.configs().filter((p) => p.payload === '').map((p) => p.topic), [topic(BATH, 'vdd')]);
  assert.equal(sensorConfigs().filter((p) => p.payload !== '').length, 4);
});
