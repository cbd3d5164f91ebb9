import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { memoryLog } from '../helpers/memory-log.js';
import { haveMosquitto, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startMqtt311Broker, type RefuseV5 } from '../helpers/mqtt311-broker.js';
import { until } from '../helpers/until.js';

/**
 * Which MQTT version the publisher speaks: 5 under `protocol: auto` where the broker
 * has it (mosquitto's own log says so), 3.1.1 after one warning where it does not
 * (a broker made to speak 3.1.1 only), and exactly what `protocol: 4|5` says otherwise.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 20_000 };
const FALLBACK = 'broker does not speak MQTT 5: using MQTT 3.1.1';
const WARN = 40;

function publisher(t: TestContext, url: string, clientId: string, protocol?: unknown) {
  const { log, entries, find } = memoryLog();
  const mqtt = configSchema.parse({ mqtt: { client_id: clientId, ...(protocol === undefined ? {} : { protocol }) } }).mqtt;
  const p = new MqttPublisher({ url, mqtt, statusTopic: `home/w1mqtt/${clientId}/status`, log, startWaitMs: 10_000 });
  t.after(() => p.stop());
  return { p, entries, find };
}

/** mosquitto's connection line for `clientId`: `… as <id> (p5, c0, k30).` → 5 (mosquitto numbers 3.1.1 as p2). */
async function mosquittoLevel(mosquitto: Mosquitto, clientId: string): Promise<number> {
  const line = new RegExp(`New client connected from .* as ${clientId} \\(p(\\d+),`);
  await until(() => `mosquitto to log ${clientId}'s connection:\n${mosquitto.log()}`, () => line.test(mosquitto.log()), 5_000);
  return Number(line.exec(mosquitto.log())?.[1]);
}

test('auto against mosquitto: MQTT 5, said by mosquitto itself and by the connected line', { ...T, skip: noMosquitto }, async (t) => {
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.stop());
  const { p, find } = publisher(t, mosquitto.url, 'proto-auto');
  assert.equal(p.protocolVersion, undefined, 'not connected yet');
  await p.start();
  assert.equal(p.connected, true);
  assert.equal(p.protocolVersion, 5);
  assert.equal(await mosquittoLevel(mosquitto, 'proto-auto'), 5);
  assert.equal(find('connected')[0]?.['protocol'], 5);
  assert.equal(typeof p.receiveMaximum, 'number', 'an MQTT 5 CONNACK carries the broker\'s Receive Maximum');
  assert.equal(find(FALLBACK).length, 0);
  await p.stop();
  assert.equal(p.protocolVersion, undefined, 'not connected any more');
});

test('protocol: 4 against mosquitto: MQTT 3.1.1 (mosquitto logs it as p2), no fallback warning', { ...T, skip: noMosquitto }, async (t) => {
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.stop());
  const { p, find } = publisher(t, mosquitto.url, 'proto-four', 4);
  await p.start();
  assert.equal(p.protocolVersion, 4);
  assert.equal(await mosquittoLevel(mosquitto, 'proto-four'), 2);
  assert.equal(find('connected')[0]?.['protocol'], 4);
  assert.equal(p.receiveMaximum, undefined, 'no Receive Maximum in a 3.1.1 CONNACK');
  assert.equal(find(FALLBACK).length, 0);
});

test('the deprecated protocol_version: 5 still decides, over a unix socket URL', { ...T, skip: noMosquitto }, async (t) => {
  const mosquitto = await startMosquitto({ unixSocket: true });
  t.after(() => mosquitto.stop());
  const url = mosquitto.unixUrl;
  assert.ok(url);
  assert.match(url, /^mqtt\+unix:\/\/\//);
  const { log, find } = memoryLog();
  const mqtt = configSchema.parse({ mqtt: { client_id: 'proto-unix', protocol_version: 5 } }).mqtt;
  const p = new MqttPublisher({ url, mqtt, statusTopic: 'home/w1mqtt/proto-unix/status', log, startWaitMs: 10_000 });
  t.after(() => p.stop());
  await p.start();
  assert.equal(p.protocolVersion, 5);
  assert.equal(await mosquittoLevel(mosquitto, 'proto-unix'), 5);
  assert.equal(find('connected')[0]?.['url'], url, 'the log names the socket');
  await p.publish('home/kitchen/temperature', '21.44', { qos: 1, retain: true });
});

for (const refuse of ['connack', 'close'] as const satisfies readonly RefuseV5[]) {
  test(`auto against a 3.1.1-only broker that ${refuse === 'connack' ? 'answers return code 1' : 'just closes'}: one warning, then 3.1.1 for good`, T, async (t) => {
    const broker = await startMqtt311Broker(refuse);
    t.after(() => broker.stop());
    const { p, entries, find } = publisher(t, broker.url, `proto-311-${refuse}`);
    await p.start();
    assert.equal(p.connected, true);
    assert.equal(p.protocolVersion, 4);
    assert.deepEqual(broker.connects, [5, 4]);
    await p.publish('home/cellar/temperature', '11.50', { qos: 1, retain: true });
    assert.ok(broker.publishes.some((m) => m.topic === 'home/cellar/temperature' && m.payload === '11.50' && m.qos === 1 && m.retain));
    await until('the online status', () => broker.publishes.some((m) => m.topic === `home/w1mqtt/proto-311-${refuse}/status` && m.payload === 'online'));

    const warnings = find(FALLBACK);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, WARN);
    assert.equal(warnings[0]?.['url'], broker.url);
    assert.equal(find('connected')[0]?.['protocol'], 4);
    assert.equal(find('connected')[0]?.['outageMs'], undefined, 'agreeing on a version is not an outage');
    assert.deepEqual(entries.filter((e) => e.level >= WARN).map((e) => e.msg), [FALLBACK], 'no connection warning for the refused v5 CONNECT');

    // A broker restart: the publisher reconnects with 3.1.1 straight away, and says nothing new about it.
    broker.dropClients();
    await until('the reconnect', () => find('reconnected').length === 1);
    assert.deepEqual(broker.connects, [5, 4, 4]);
    assert.equal(p.protocolVersion, 4);
    assert.equal(find('reconnected')[0]?.['protocol'], 4);
    await p.publish('home/cellar/temperature', '11.75', { qos: 1, retain: true });
    assert.ok(broker.publishes.some((m) => m.payload === '11.75'));
    assert.equal(find(FALLBACK).length, 1, 'the fallback is logged once');
    // Before the broker goes (t.after runs first come, first served), so `offline` is acknowledged.
    await p.stop();
    assert.ok(broker.publishes.some((m) => m.topic === `home/w1mqtt/proto-311-${refuse}/status` && m.payload === 'offline'));
  });
}

test('protocol: 5 against a 3.1.1-only broker: no fallback, and the warning says what to set', T, async (t) => {
  const broker = await startMqtt311Broker('connack');
  t.after(() => broker.stop());
  const { log, find } = memoryLog();
  const mqtt = configSchema.parse({ mqtt: { client_id: 'proto-five', protocol: 5 } }).mqtt;
  const p = new MqttPublisher({ url: broker.url, mqtt, statusTopic: 'home/w1mqtt/proto-five/status', log, startWaitMs: 0 });
  t.after(() => p.stop());
  await p.start();
  // The retry (after 1 s) is another v5 CONNECT.
  await until('a second CONNECT', () => broker.connects.length >= 2);
  assert.deepEqual(broker.connects.slice(0, 2), [5, 5]);
  assert.equal(p.connected, false);
  assert.equal(p.protocolVersion, undefined);
  assert.equal(find(FALLBACK).length, 0);
  const failed = find('connection failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.['code'], 1);
  assert.match(String(failed[0]?.['hint']), /mqtt\.protocol: auto or 4/);
});
