import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { configSchema, type MqttConfig } from '../../src/config/schema.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { haveMosquitto, startMosquitto, stopChild } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/until.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../helpers/publisher-child.ts', import.meta.url));
const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 20000 };

interface Entry {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger that keeps its lines in memory, so tests can count them. */
function memoryLog(): { log: Logger; entries: Entry[]; count: (level: number, msg: string | RegExp) => number } {
  const entries: Entry[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as Entry) });
  const count = (level: number, msg: string | RegExp) =>
    entries.filter((e) => e.level === level && (typeof msg === 'string' ? e.msg === msg : msg.test(e.msg))).length;
  return { log, entries, count };
}
const DEBUG = 20;
const INFO = 30;
const WARN = 40;
const ERROR = 50;

function mqttConfig(mqtt: Record<string, unknown>): MqttConfig {
  return configSchema.parse({ mqtt }).mqtt;
}

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = sleep(ms, undefined, { ref: false }).then(() => Promise.reject(new Error(`${what} took longer than ${ms} ms`)));
  return Promise.race([promise, timeout]);
}

test('mosquitto: retained round trip, and the Last Will marks a killed agent offline', { ...T, skip: noMosquitto }, async (t) => {
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.stop());
  const { log } = memoryLog();
  const status = 'home/w1mqtt/test-b/status';
  const publisher = new MqttPublisher({ url: mosquitto.url, mqtt: mqttConfig({ client_id: 'test-b' }), statusTopic: status, log });
  t.after(() => publisher.stop());
  await publisher.start();
  await publisher.publish('home/garage/temperature', '-0.06', { qos: 1, retain: true });
  const sub = await subscribe({ port: mosquitto.port, topics: ['home/#'] });
  t.after(() => sub.stop());
  assert.deepEqual(await sub.waitFor((m) => m.topic === 'home/garage/temperature'), {
    retained: true,
    topic: 'home/garage/temperature',
    payload: '-0.06',
  });
  await sub.waitFor((m) => m.topic === status && m.payload === 'online' && m.retained);
  await publisher.stop();
  await sub.waitFor((m) => m.topic === status && m.payload === 'offline');

  // Another process, killed without a DISCONNECT: only the broker's Last Will can say `offline`.
  const willStatus = 'home/w1mqtt/test-will/status';
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mosquitto.url, 'test-will', willStatus], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => stopChild(child));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  await until(() => `the child to print ready (got: ${out})`, () => out.includes('ready'), 15_000);
  await sub.waitFor((m) => m.topic === willStatus && m.payload === 'online');
  assert.ok(child.pid);
  process.kill(child.pid, 'SIGKILL');
  await sub.waitFor((m) => m.topic === willStatus && m.payload === 'offline', 10_000);
  const later = await subscribe({ port: mosquitto.port, topics: [willStatus] });
  t.after(() => later.stop());
  assert.deepEqual(await later.waitFor(() => true), { retained: true, topic: willStatus, payload: 'offline' });
});

test('broker down at start: start() returns, messages wait, one warning per outage', { ...T, skip: noMosquitto }, async (t) => {
  const port = await freePort();
  const { log, entries, count } = memoryLog();
  const status = 'home/w1mqtt/test-c/status';
  const publisher = new MqttPublisher({
    url: `mqtt://127.0.0.1:${port}`,
    mqtt: mqttConfig({ client_id: 'test-c' }),
    statusTopic: status,
    log,
    startWaitMs: 500,
  });
  t.after(() => publisher.stop());
  await publisher.start();
  // startWaitMs (500 ms) ends before MQTT.js's first retry (1 s after the refusal) fails: timers fire in order.
  assert.equal(count(DEBUG, 'retry failed'), 0, 'start() gave up waiting after startWaitMs, before the first retry');
  assert.equal(publisher.connected, false);
  const queued = publisher.publish('home/cellar/temperature', '11.50', { qos: 1, retain: true });
  const queued0 = publisher.publish('home/cellar/humidity', '80', { qos: 0, retain: true });

  // Two failed retries (after 1 s, then 2 s more) and still only the first failure logged at warn.
  await until('two failed retries', () => count(DEBUG, 'retry failed') >= 2);
  assert.equal(count(WARN, 'connection failed'), 1);
  const warning = entries.find((e) => e.msg === 'connection failed');
  assert.match(String(warning?.['err']), /ECONNREFUSED/);

  const mosquitto = await startMosquitto({ port });
  t.after(() => mosquitto.stop());
  await bounded(Promise.all([queued, queued0]), 15_000, 'delivery after the broker came up');
  assert.equal(publisher.connected, true);
  const sub = await subscribe({ port, topics: ['home/#'] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === 'home/cellar/temperature' && m.payload === '11.50' && m.retained);
  await sub.waitFor((m) => m.topic === 'home/cellar/humidity' && m.payload === '80' && m.retained);
  await sub.waitFor((m) => m.topic === status && m.payload === 'online');
  assert.equal(count(WARN, 'connection failed'), 1, 'no warning per retry');
  const connected = entries.find((e) => e.level === INFO && e.msg === 'connected');
  assert.equal(typeof connected?.['outageMs'], 'number');
  assert.equal(connected?.['url'], `mqtt://127.0.0.1:${port}`);
});

test('broker restart: one warning when the connection is lost, then reconnected with the outage', { ...T, skip: noMosquitto }, async (t) => {
  const first = await startMosquitto();
  t.after(() => first.stop());
  const { log, entries, count } = memoryLog();
  const status = 'home/w1mqtt/test-r/status';
  const publisher = new MqttPublisher({ url: first.url, mqtt: mqttConfig({ client_id: 'test-r' }), statusTopic: status, log });
  t.after(() => publisher.stop());
  await publisher.start();
  assert.equal(publisher.connected, true);

  await first.stop();
  await until('the lost connection to be noticed', () => count(WARN, 'connection lost') === 1);
  const queued = publisher.publish('home/loft/temperature', '18.25', { qos: 1, retain: true });
  await until('a failed retry', () => count(DEBUG, 'retry failed') >= 1);
  const second = await startMosquitto({ port: first.port });
  t.after(() => second.stop());
  await bounded(queued, 15_000, 'delivery after the restart');
  const reconnected = entries.find((e) => e.level === INFO && e.msg === 'reconnected');
  assert.equal(typeof reconnected?.['outageMs'], 'number');
  assert.equal(count(WARN, 'connection lost') + count(WARN, 'connection failed'), 1, 'one warning per outage');
  const sub = await subscribe({ port: second.port, topics: ['home/#'] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === 'home/loft/temperature' && m.payload === '18.25' && m.retained);
  await sub.waitFor((m) => m.topic === status && m.payload === 'online' && m.retained);
});

test('stop() while the broker is down does not hang and settles queued publishes', { ...T }, async (t) => {
  const port = await freePort();
  const { log } = memoryLog();
  const publisher = new MqttPublisher({
    url: `mqtt://127.0.0.1:${port}`,
    mqtt: mqttConfig({ client_id: 'test-f' }),
    statusTopic: 'home/w1mqtt/test-f/status',
    log,
    startWaitMs: 200,
  });
  t.after(() => publisher.stop());
  await publisher.start();
  const queued = publisher.publish('home/x/temperature', '1.00', { qos: 1, retain: true });
  await bounded(publisher.stop(), 6_000, 'stop()');
  await assert.rejects(queued, /publisher stopped/);
  assert.deepEqual(publisher.counters, { published: 0, failed: 1 });
});

test('credentials: a wrong password is an auth failure, the right one (password_file) works', { ...T, skip: noMosquitto }, async (t) => {
  const mosquitto = await startMosquitto({ username: 'pi', password: 's3cret' });
  t.after(() => mosquitto.stop());

  const wrong = memoryLog();
  const bad = new MqttPublisher({
    url: mosquitto.url,
    mqtt: mqttConfig({ client_id: 'test-d-bad', username: 'pi', password: 'wrong' }),
    statusTopic: 'home/w1mqtt/test-d-bad/status',
    log: wrong.log,
    startWaitMs: 1_000,
  });
  t.after(() => bad.stop());
  await bad.start();
  await until('the auth failure log', () => wrong.count(ERROR, /^authentication failed/) > 0, 5_000);
  assert.equal(bad.connected, false);
  const failure = wrong.entries.find((e) => e.level === ERROR);
  assert.match(String(failure?.['reason']), /not authori[sz]ed|bad user ?name or password/i);
  assert.match(String(failure?.msg), /not authori[sz]ed|bad user ?name or password/i);
  await bad.stop();

  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-pass-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const passFile = join(dir, 'mqtt.pass');
  await writeFile(passFile, 's3cret\n', { mode: 0o600 });
  const right = memoryLog();
  const status = 'home/w1mqtt/test-d/status';
  const good = new MqttPublisher({
    url: mosquitto.url,
    mqtt: mqttConfig({ client_id: 'test-d', username: 'pi', password_file: passFile }),
    statusTopic: status,
    log: right.log,
  });
  t.after(() => good.stop());
  await good.start();
  assert.equal(good.connected, true);
  await good.publish('home/attic/temperature', '30.00', { qos: 1, retain: true });
  const sub = await subscribe({ port: mosquitto.port, topics: ['home/#'], username: 'pi', password: 's3cret' });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === 'home/attic/temperature' && m.payload === '30.00' && m.retained);
  await sub.waitFor((m) => m.topic === status && m.payload === 'online');
  assert.equal(right.count(ERROR, /authentication failed/), 0);

  const missing = new MqttPublisher({
    url: mosquitto.url,
    mqtt: mqttConfig({ username: 'pi', password_file: join(dir, 'nope') }),
    statusTopic: status,
    log: right.log,
  });
  await assert.rejects(missing.start(), /cannot read mqtt\.password_file .*nope/);
  await missing.stop();
});

