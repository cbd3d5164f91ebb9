import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { pahoPython, startHaClient, type HaEvent } from '../helpers/ha-client.js';
import { checkDiscovery } from '../helpers/ha-schema.js';
import { findBinary, haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';

/**
 * Home Assistant's side of discovery as HA does it: an MQTT 5 client (paho-mqtt, HA's own
 * library) with a username and password subscribes to the discovery prefix and then to each
 * entity's state and availability topics, against a real mosquitto that requires a
 * password (standalone, and the agent's bundled one), with `w1mqtt run` as a child process. Then HA "restarts": its birth message must
 * bring every config again. In CI a missing paho-mqtt or mosquitto fails the test.
 */

const python = pahoPython();
const skip = (!haveMosquitto() && 'mosquitto / mosquitto-clients not installed') || (python === undefined && 'python3-paho-mqtt not installed');
const USER = 'ha';
const PASSWORD = 'correct horse battery staple';
const CLIENT_ID = 'w1mqtt-paho';
const OWN = `home/w1mqtt/${CLIENT_ID}`;
const KITCHEN = '28-0316a2792dff';
const BATH = '26-000000019a3b';
const rom = (sysfs: string) => Buffer.from(parseDeviceId(sysfs)!.rom).toString('hex');
const KITCHEN_CONFIG = `homeassistant/sensor/1wire_${rom(KITCHEN)}_temperature/config`;
const VDD_CONFIG = `homeassistant/sensor/1wire_${rom(BATH)}_vdd/config`;
const AGENT_CONFIGS = ['status', 'readings_ok', 'readings_failed', 'queue_depth', 'last_cycle'].map(
  (k) => `homeassistant/${k === 'status' ? 'binary_sensor' : 'sensor'}/w1mqtt_${CLIENT_ID}_${k}/config`,
);

/** What HA's template `{{ value_json.a.b }}` picks out of a JSON payload (the only form the agent writes). */
function render(template: unknown, payload: string): unknown {
  const path = /^\{\{ value_json\.([a-z_.]+) \}\}$/.exec(String(template))?.[1];
  assert.ok(path, `unexpected template ${String(template)}`);
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], JSON.parse(payload));
}

/**
 * `bundled`: the agent's own broker (mosquitto run by w1mqtt) with a password file made by
 * mosquitto_passwd and an acl_file giving HA what it needs; else a standalone mosquitto.
 */
async function scenario(t: TestContext, bundled: boolean): Promise<void> {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  let port: number;
  let mqtt: string;
  let broker = '';
  if (bundled) {
    port = await freePort();
    const passwd = join(ws.dir, 'passwd');
    const made = spawnSync(findBinary('mosquitto_passwd')!, ['-b', '-c', passwd, USER, PASSWORD], { timeout: 10_000, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const acl = join(ws.dir, 'acl');
    await writeFile(acl, `user ${USER}\ntopic read home/#\ntopic readwrite homeassistant/#\n`);
    mqtt = `{ client_id: ${CLIENT_ID}, payload: json, stats_interval: 1s }`;
    broker = `broker: { port: ${port}, password_file: ${passwd}, acl_file: ${acl} }`;
  } else {
    const external = await startMosquitto({ username: USER, password: PASSWORD });
    t.after(() => external.stop());
    port = external.port;
    const passwordFile = join(ws.dir, 'mqtt.pass');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    mqtt = `{ url: "${external.url}", username: ${USER}, password_file: ${passwordFile}, client_id: ${CLIENT_ID}, payload: json, stats_interval: 1s }`;
  }
  const file = await ws.writeConfig(`
mqtt: ${mqtt}
${broker}
homeassistant: { enabled: true }
web: { enabled: false }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
unmapped: ignore
sensors:
  ${KITCHEN}: { topic: home/kitchen/temperature, name: Kitchen }
  ${BATH}: { name: Bathroom, humidity: home/bath/humidity }
`);

  // HA is usually up first; the bundled broker comes with the agent, so HA connects after it.
  const startAgent = () => startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  const early = bundled ? startAgent() : undefined;
  if (early) {
    t.after(() => early.stop());
    await early.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  }
  const ha = startHaClient({ python: python!, port, username: USER, password: PASSWORD });
  t.after(() => ha.stop());
  const connected = await ha.waitFor((e) => e.event === 'connected', 10_000);
  assert.equal(connected.rc, 0, 'MQTT 5 CONNECT with username and password accepted');
  t.diagnostic(`paho-mqtt ${String(connected.paho)}`);
  await ha.waitFor((e) => e.event === 'subscribed', 10_000);
  const agent = early ?? startAgent();
  if (!early) t.after(() => agent.stop());

  const config = async (topic: string, from = 0): Promise<HaEvent & { topic: string; payload: string }> =>
    (await ha.waitFor((e) => e.event === 'message' && e.topic === topic && e.payload !== '', 30_000, from)) as HaEvent & { topic: string; payload: string };
  const state = (topic: string, predicate: (payload: string) => boolean = () => true) =>
    ha.waitFor((e) => e.event === 'message' && e.topic === topic && predicate(e.payload ?? ''), 30_000);

  // Configs: the agent device and its diagnostic entities, a thermometer, a DS2438's VDD; each one valid for HA.
  const agentConfigs = await Promise.all(AGENT_CONFIGS.map((topic) => config(topic)));
  const [kitchen, vdd] = [await config(KITCHEN_CONFIG), await config(VDD_CONFIG)];
  const parsed = new Map<string, Record<string, unknown>>();
  for (const e of ha.events) {
    if (e.event !== 'message' || !e.topic?.startsWith('homeassistant/') || !e.payload) continue;
    assert.deepEqual(checkDiscovery(e.topic, e.payload), [], `${e.topic}: ${e.payload}`);
    parsed.set(e.topic, JSON.parse(e.payload) as Record<string, unknown>);
  }
  const agentDevice = JSON.parse(agentConfigs[0]!.payload) as { device: { identifiers: string[]; name: string } };
  assert.match(agentDevice.device.name, /^w1mqtt on .+/);
  for (const topic of AGENT_CONFIGS) assert.equal(parsed.get(topic)?.['entity_category'], 'diagnostic', topic);
  for (const [topic, c] of parsed) {
    const origin = c['origin'] as { name: string; support_url: string };
    assert.equal(origin.name, 'w1mqtt', topic);
    assert.match(origin.support_url, /^https:\/\//, topic);
    if (topic.includes('/1wire_')) assert.equal((c['device'] as { via_device: string }).via_device, agentDevice.device.identifiers[0], topic);
  }
  assert.equal(JSON.parse(vdd.payload)['entity_category'], 'diagnostic');
  assert.equal(JSON.parse(kitchen.payload)['entity_category'], undefined);

  // States and availability, on the topics HA subscribed to from the configs.
  const k = JSON.parse(kitchen.payload) as { state_topic: string; value_template: string; availability: { topic: string }[] };
  assert.equal(typeof render(k.value_template, (await state(k.state_topic)).payload!), 'number');
  for (const a of k.availability) await state(a.topic, (p) => p === 'online');
  const status = parsed.get(AGENT_CONFIGS[0]!) as { state_topic: string; payload_on: string };
  await state(status.state_topic, (p) => p === status.payload_on);
  // The counters, each through its own template from the stats JSON, once a reading was counted.
  const stats = await state(`${OWN}/stats`, (p) => (JSON.parse(p) as { readings: { ok: number } }).readings.ok > 0);
  for (const topic of AGENT_CONFIGS.slice(1)) {
    const c = parsed.get(topic) as { state_topic: string; value_template: string };
    assert.equal(c.state_topic, `${OWN}/stats`);
    const value = render(c.value_template, stats.payload!);
    assert.ok(typeof value === 'number' || value === null, `${topic}: ${String(value)}`);
  }
  assert.ok((render((parsed.get(AGENT_CONFIGS[1]!) as { value_template: string }).value_template, stats.payload!) as number) > 0);

  // HA restarts: its birth message (QoS 0, not retained, as HA sends it) brings every config again, live.
  const mark = ha.events.length;
  ha.publish('homeassistant/status', 'online');
  await ha.waitFor((e) => e.event === 'published', 10_000, mark);
  const again = await config(KITCHEN_CONFIG, mark);
  assert.equal(again.retain, false, 'published anew, not a retained copy');
  for (const topic of AGENT_CONFIGS) await config(topic, mark);
  const ended = await agent.waitForLog((l) => l['msg'] === 'Home Assistant discovery published again', 20_000);
  assert.deepEqual([ended['births'], ended['rounds']], [1, 1]);
  assert.equal(agent.logs.filter((l) => l['msg'] === 'Home Assistant is online: publishing discovery again').length, 1);

  // The agent stops: HA's connectivity entity turns off and the sensors go unavailable, through the status topic.
  const stopping = ha.events.length;
  assert.equal(await agent.stop(), 0);
  await ha.waitFor((e) => e.event === 'message' && e.topic === status.state_topic && e.payload === 'offline', 10_000, stopping);
}

test('Home Assistant over paho-mqtt, MQTT 5 and a password, on a standalone mosquitto: configs, states, availability, and configs again after its birth message', { timeout: 120_000, skip }, (t) => scenario(t, false));

test('the same through the bundled broker, with a password file from mosquitto_passwd and an acl_file', { timeout: 120_000, skip }, (t) => scenario(t, true));
