import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { checkSensorDiscovery } from '../helpers/ha-schema.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { publishOnce } from '../helpers/mqtt-pub.js';
import { subscribe } from '../helpers/mqtt-sub.js';

/**
 * Home Assistant discovery end to end: `w1mqtt run` publishing to a real mosquitto,
 * the discovery messages read back with mosquitto_sub (what HA's MQTT integration
 * receives) and checked against the fixture of HA's documented schema.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const CLIENT_ID = 'w1mqtt-ha';
const STATUS = `home/w1mqtt/${CLIENT_ID}/status`;
// ROMs in wire order (family, serial LSB first, CRC): the unique ids HA keeps.
const KITCHEN_ID = '28-0316a2792dff';
const GARAGE_ID = '28-0316a27a1c44';
const romOf = (sysfs: string) => {
  const serial = sysfs.slice(3).match(/../g)!.reverse().join('');
  return `${sysfs.slice(0, 2)}${serial}`;
};

function config(mqttPort: number, w1: string, sensors: string): string {
  return `
mqtt: { url: "mqtt://127.0.0.1:${mqttPort}", client_id: ${CLIENT_ID}, payload: json, decimals: 1 }
homeassistant: { enabled: true }
sources: [{ type: w1, path: ${w1} }]
interval: 1s
unmapped: ignore
sensors:
${sensors}`;
}

test('discovery configs HA accepts, again on HA\'s birth message, and removed with their sensor', { timeout: 120_000, skip: noMosquitto }, async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const file = await ws.writeConfig(
    config(broker.port, ws.w1, `  ${KITCHEN_ID}: { topic: home/kitchen/temperature, name: Kitchen }\n  ${GARAGE_ID}: { topic: home/garage/temperature, name: Garage }\n`),
  );
  const sub = await subscribe({ port: broker.port, topics: ['homeassistant/#', STATUS] });
  t.after(() => sub.stop());
  let agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());

  const isConfig = (sysfs: string) => (m: { topic: string; payload: string }) => m.topic.includes(`1wire_${romOf(sysfs)}`) && m.payload !== '';
  const kitchen = await sub.waitFor(isConfig(KITCHEN_ID), 30_000);
  const garage = await sub.waitFor(isConfig(GARAGE_ID), 10_000);
  for (const m of [kitchen, garage]) assert.deepEqual(checkSensorDiscovery(m.topic, m.payload), [], `${m.topic}: ${m.payload}`);
  assert.match(kitchen.topic, new RegExp(`^homeassistant/sensor/1wire_${romOf(KITCHEN_ID)}[0-9a-f]{2}_temperature/config$`));
  const c = JSON.parse(kitchen.payload) as Record<string, unknown>;
  assert.equal(c['state_topic'], 'home/kitchen/temperature');
  assert.equal(c['value_template'], '{{ value_json.temperature }}');
  assert.equal(c['suggested_display_precision'], 1);
  assert.equal((c['device'] as { name: string }).name, 'Kitchen');
  assert.equal((c['device'] as { model: string }).model, 'DS18B20');
  // The agent's status and the sensor's own availability: both must say online (availability_mode: all).
  assert.deepEqual((c['availability'] as { topic: string }[]).map((a) => a.topic), [STATUS, 'home/kitchen/temperature/availability']);
  await sub.waitFor((m) => m.topic === STATUS && m.payload === 'online');
  // The value HA reads with that template is in the sensor's payload.
  const state = await subscribe({ port: broker.port, topics: ['home/kitchen/temperature'] });
  const reading = await state.waitFor(() => true, 10_000);
  await state.stop();
  assert.equal(typeof (JSON.parse(reading.payload) as { temperature: unknown }).temperature, 'number');

  // HA restarts and announces itself: every config is published again.
  const before = sub.retainedLines.filter(isConfig(KITCHEN_ID)).length;
  assert.equal((await publishOnce({ port: broker.port, topic: 'homeassistant/status', message: 'online' })).code, 0);
  await agent.waitForLog((l) => l['msg'] === 'Home Assistant is online: publishing discovery again', 10_000);
  // After a random 1–5 s (HA's advice, so not every client answers at once).
  await agent.waitForLog((l) => l['msg'] === 'Home Assistant discovery published again', 15_000);
  const deadline = Date.now() + 10_000;
  while (sub.retainedLines.filter(isConfig(KITCHEN_ID)).length <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(sub.retainedLines.filter(isConfig(KITCHEN_ID)).length > before, 'kitchen config published again');

  // Stopped: HA marks the entities unavailable through the status topic.
  assert.equal(await agent.stop(), 0);
  await sub.waitFor((m) => m.topic === STATUS && m.payload === 'offline');

  // The garage sensor is taken out of sensors.yaml while the agent is down: its entity goes on the next start.
  await ws.writeConfig(config(broker.port, ws.w1, `  ${KITCHEN_ID}: { topic: home/kitchen/temperature, name: Kitchen }\n`));
  agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  await sub.waitFor((m) => m.topic === garage.topic && m.payload === '', 30_000);
  await agent.waitForLog((l) => l['msg'] === 'removing a Home Assistant entity no longer published' && l['topic'] === garage.topic);
  // What a Home Assistant connecting now finds retained: the kitchen config only.
  const fresh = await subscribe({ port: broker.port, topics: ['homeassistant/#'] });
  t.after(() => fresh.stop());
  await fresh.waitFor(isConfig(KITCHEN_ID), 10_000);
  assert.equal(fresh.retainedLines.some((m) => m.topic === garage.topic), false);
  assert.equal(await agent.stop(), 0);
});

test('a live reload re-publishes discovery (new payload format, new name) and removes a sensor taken out', { timeout: 120_000, skip: noMosquitto }, async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const plain = config(broker.port, ws.w1, `  ${KITCHEN_ID}: { topic: home/kitchen/temperature, name: Kitchen }\n  ${GARAGE_ID}: { topic: home/garage/temperature, name: Garage }\n`).replace('payload: json', 'payload: plain');
  const file = await ws.writeConfig(plain);
  const sub = await subscribe({ port: broker.port, topics: ['homeassistant/#'] });
  t.after(() => sub.stop());
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  const isConfig = (sysfs: string) => (m: { topic: string; payload: string }) => m.topic.includes(`1wire_${romOf(sysfs)}`) && m.payload !== '';
  const first = await sub.waitFor(isConfig(KITCHEN_ID), 30_000);
  const garage = await sub.waitFor(isConfig(GARAGE_ID), 10_000);
  assert.equal('value_template' in (JSON.parse(first.payload) as object), false);
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 30_000);

  await ws.writeConfig(config(broker.port, ws.w1, `  ${KITCHEN_ID}: { topic: home/kitchen/temperature, name: Cuisine }\n`));
  await agent.waitForLog((l) => String(l['msg']).startsWith('config reloaded'), 20_000);
  const updated = await sub.waitFor((m) => isConfig(KITCHEN_ID)(m) && m.payload.includes('value_json'), 10_000);
  assert.deepEqual(checkSensorDiscovery(updated.topic, updated.payload), []);
  assert.equal((JSON.parse(updated.payload) as { device: { name: string } }).device.name, 'Cuisine');
  await sub.waitFor((m) => m.topic === garage.topic && m.payload === '', 10_000);
});
