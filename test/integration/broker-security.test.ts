import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as mqttConnect } from 'mqtt';
import { pino } from 'pino';
import { configSchema } from '../../src/config/schema.js';
import { BundledBroker } from '../../src/mqtt/broker.js';
import { hashPassword } from '../../src/mqtt/passwords.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { findBinary, haveMosquitto } from '../helpers/mosquitto.js';
import { publishOnce } from '../helpers/mqtt-pub.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 60_000 };
const CHEAP = { N: 1024, r: 8, p: 1 };
const AGENT_ID = 'w1mqtt-secure';
const SENSOR_TOPIC = 'home/kitchen/temperature';

interface Entry {
  kind?: string;
  msg: string;
}

/** A bundled broker with users and ACLs, and the agent's own publisher connected to it with its in-memory credential. */
async function secureBroker(t: { after(fn: () => Promise<void>): void }, extra: Record<string, unknown> = {}) {
  const entries: Entry[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as Entry) });
  const broker_ = {
    host: '127.0.0.1',
    port: 1883,
    users: {
      alice: { password: await hashPassword('alice-pw', CHEAP), read: ['home/#'], write: ['home/alice/#', 'shared/%u/#'] },
      writer: { password: await hashPassword('writer-pw', CHEAP) },
    },
    ...extra,
  };
  const settings = configSchema.parse({ broker: broker_ }).broker;
  const broker = new BundledBroker({
    host: '127.0.0.1',
    port: 0,
    log,
    settings,
    version: 'test',
    agent: { clientId: AGENT_ID, ownsTopic: (topic) => topic === SENSOR_TOPIC || topic.startsWith(`home/w1mqtt/${AGENT_ID}/`) },
  });
  t.after(() => broker.stop());
  await broker.start();
  const mqtt = { ...configSchema.parse({ mqtt: { client_id: AGENT_ID } }).mqtt, ...broker.agentCredential };
  const agent = new MqttPublisher({ url: broker.url, mqtt, statusTopic: `home/w1mqtt/${AGENT_ID}/status`, log });
  t.after(() => agent.stop());
  await agent.start();
  assert.equal(agent.connected, true, 'the agent connects with its in-memory credential');
  await agent.publish(SENSOR_TOPIC, '21.44', { qos: 1, retain: true });
  return { broker, agent, entries, port: broker.address.port };
}

function logged(entries: Entry[], kind: string): boolean {
  return entries.some((e) => e.kind === kind);
}

test('users: anonymous and wrong passwords are refused, a right one is let in', { ...T, skip: noMosquitto }, async (t) => {
  const { port, entries } = await secureBroker(t);
  await assert.rejects(subscribe({ port, topics: ['home/#'] }), /not authori[sz]ed/i);
  await assert.rejects(subscribe({ port, topics: ['home/#'], username: 'alice', password: 'nope' }), /bad user name or password|not authori[sz]ed/i);
  await assert.rejects(subscribe({ port, topics: ['home/#'], username: 'mallory', password: 'x' }), /bad user name or password|not authori[sz]ed/i);
  assert.ok(logged(entries, 'anonymous_refused'));
  assert.ok(logged(entries, 'auth_failed'));
  const sub = await subscribe({ port, topics: ['home/#'], username: 'alice', password: 'alice-pw' });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === SENSOR_TOPIC && m.payload === '21.44' && m.retained);
});

test('ACLs: reads outside the read filters never arrive, writes outside the write filters are refused', { ...T, skip: noMosquitto }, async (t) => {
  const { port, entries } = await secureBroker(t);
  const everything = await subscribe({ port, topics: ['#'], username: 'writer', password: 'writer-pw' });
  t.after(() => everything.stop());
  const alice = await subscribe({ port, topics: ['#'], username: 'alice', password: 'alice-pw' });
  t.after(() => alice.stop());

  assert.equal((await publishOnce({ port, topic: 'garden/shed', message: 'g1', username: 'writer', password: 'writer-pw' })).code, 0);
  assert.equal((await publishOnce({ port, topic: 'home/hall', message: 'h1', username: 'writer', password: 'writer-pw' })).code, 0);
  await alice.waitFor((m) => m.topic === 'home/hall' && m.payload === 'h1');
  await everything.waitFor((m) => m.topic === 'garden/shed');
  assert.equal(alice.lines.some((l) => l.startsWith('garden/')), false, 'alice may subscribe to #, but only home/# reaches her');

  // Alice writes where her filters allow, %u included; elsewhere her connection is closed (MQTT-3.3.5-2).
  assert.equal((await publishOnce({ port, topic: 'home/alice/phone', message: 'a1', username: 'alice', password: 'alice-pw' })).code, 0);
  assert.equal((await publishOnce({ port, topic: 'shared/alice/x', message: 'a2', username: 'alice', password: 'alice-pw' })).code, 0);
  const denied = await publishOnce({ port, topic: 'home/hall', message: 'forged', username: 'alice', password: 'alice-pw' });
  assert.notEqual(denied.code, 0, denied.output);
  await everything.waitFor((m) => m.topic === 'shared/alice/x' && m.payload === 'a2');
  assert.ok(logged(entries, 'acl_denied'));
  assert.equal(everything.lines.includes('home/hall forged'), false);

  // A subscription no read filter overlaps gets SUBACK 0x80.
  const refused = await subscribe({ port, topics: ['garden/#'], username: 'alice', password: 'alice-pw' });
  t.after(() => refused.stop());
  assert.ok(logged(entries, 'acl_subscribe_denied'));
});

test("only the agent publishes to its topics, and nobody can take over its client id", { ...T, skip: noMosquitto }, async (t) => {
  const { port, entries, agent } = await secureBroker(t);
  const forged = await publishOnce({ port, topic: SENSOR_TOPIC, message: '99.99', retain: true, username: 'writer', password: 'writer-pw' });
  assert.notEqual(forged.code, 0, forged.output);
  const status = await publishOnce({ port, topic: `home/w1mqtt/${AGENT_ID}/status`, message: 'offline', retain: true, username: 'writer', password: 'writer-pw' });
  assert.notEqual(status.code, 0, status.output);
  assert.ok(logged(entries, 'agent_topic_denied'));

  const takeover = await publishOnce({ port, topic: 'x/y', message: 'z', clientId: AGENT_ID, username: 'writer', password: 'writer-pw' });
  assert.notEqual(takeover.code, 0, takeover.output);
  assert.match(takeover.output, /identifier rejected|not authori[sz]ed|refused/i);
  assert.ok(logged(entries, 'client_id_taken'));
  assert.equal(agent.connected, true, 'the agent keeps its session');

  // The agent's retained values are untouched, and it still publishes.
  await agent.publish(SENSOR_TOPIC, '21.50', { qos: 1, retain: true });
  const sub = await subscribe({ port, topics: ['home/#'], username: 'writer', password: 'writer-pw' });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === SENSOR_TOPIC && m.payload === '21.50');
  await sub.waitFor((m) => m.topic === `home/w1mqtt/${AGENT_ID}/status` && m.payload === 'online');
});

test('TLS listener: mosquitto_sub verifies the certificate and reads the retained reading', { ...T, skip: noMosquitto }, async (t) => {
  const openssl = findBinary('openssl');
  if (!openssl) {
    if (process.env['CI']) throw new Error('openssl not installed');
    t.skip('openssl not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore', timeout: 30_000 });
  const tlsPort = await freePort();
  const { agent } = await secureBroker(t, { tls: { port: tlsPort, cert_file: cert, key_file: key } });
  const sub = await subscribe({ port: tlsPort, topics: [SENSOR_TOPIC], username: 'alice', password: 'alice-pw', extra: ['--cafile', cert] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === SENSOR_TOPIC && m.payload === '21.44');
  // A plain MQTT client on the TLS port gets nowhere, and the broker carries on.
  const plain = await publishOnce({ port: tlsPort, topic: 'a/b', message: 'x', username: 'writer', password: 'writer-pw', timeoutMs: 8000 });
  assert.notEqual(plain.code, 0);
  await agent.publish(SENSOR_TOPIC, '21.60', { qos: 1, retain: true });
  await sub.waitFor((m) => m.topic === SENSOR_TOPIC && m.payload === '21.60');
});

test('WebSocket listener: an MQTT-over-WebSocket client (mqtt.js, as in a browser) logs in, reads and writes', { ...T, skip: noMosquitto }, async (t) => {
  const wsPort = await freePort();
  const { port } = await secureBroker(t, { websocket: { port: wsPort } });
  const client = mqttConnect(`ws://127.0.0.1:${wsPort}/mqtt`, { username: 'alice', password: 'alice-pw', reconnectPeriod: 0, connectTimeout: 5000 });
  t.after(() => client.endAsync(true));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const got = new Promise<string>((resolve) => client.on('message', (topic, payload) => topic === SENSOR_TOPIC && resolve(payload.toString())));
  await client.subscribeAsync('home/#');
  assert.equal(await got, '21.44');
  const sub = await subscribe({ port, topics: ['home/alice/#'], username: 'writer', password: 'writer-pw' });
  t.after(() => sub.stop());
  await client.publishAsync('home/alice/dashboard', 'hello', { qos: 1 });
  await sub.waitFor((m) => m.topic === 'home/alice/dashboard' && m.payload === 'hello');
});
