import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, fixtureWorkspace } from '../helpers/agent-process.js';
import { eventually, firstEvent, getJson, http } from '../helpers/http.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { FAULTY, GOOD_VALUES, startWebAgent } from '../helpers/web-agent.js';

const T = { timeout: 90_000 };
const noMosquitto = !haveMosquitto() && 'mosquitto-clients not installed';

interface Sensor {
  key: string;
  name: string;
  sysfs: string;
  owfs: string;
  chip: string;
  topic: string;
  text: string | null;
  value: number | null;
  state: string;
  measurement: string;
  quantity: string;
  unit: string;
  fault: { code: string; summary: string; count: number } | null;
}
interface History {
  sensor: string;
  t: number[];
  v: (number | null)[];
}

test('API: every fixture sensor with its value, both ids, chip, topic and faults; history in either notation', T, async (t) => {
  const { webPort } = await startWebAgent(t);
  const expected = Object.keys(GOOD_VALUES).length + Object.keys(FAULTY).length;
  const sensors = await eventually('every sensor read at least once', async () => {
    const body = await getJson<{ now: number; sensors: Sensor[] }>(webPort, '/api/sensors');
    const settled = body.sensors.filter((s) => s.text !== null || s.fault !== null);
    return body.sensors.length === expected && settled.length === expected ? body.sensors : undefined;
  });
  for (const [id, text] of Object.entries(GOOD_VALUES)) {
    const s = sensors.find((x) => x.key === id);
    assert.ok(s, `sensor ${id} listed`);
    assert.equal(s.text, text, id);
    assert.equal(s.state, 'ok', id);
    assert.equal(s.fault, null, id);
  }
  for (const [id, code] of Object.entries(FAULTY)) {
    const s = sensors.find((x) => x.key === id);
    assert.equal(s?.state, 'fault', id);
    assert.equal(s?.fault?.code, code, id);
    assert.equal(s?.text, null, `${id} never had a good value`);
  }
  const kitchen = sensors.find((s) => s.key === '28-0316a27a1c44');
  assert.deepEqual(
    { name: kitchen?.name, sysfs: kitchen?.sysfs, owfs: kitchen?.owfs, chip: kitchen?.chip, topic: kitchen?.topic },
    { name: 'Kitchen', sysfs: '28-0316a27a1c44', owfs: '28.441C7AA21603', chip: 'DS18B20', topic: 'home/kitchen/temperature' },
  );
  // The DS2438's humidity and the DS2401's presence: their own unit, topic and state.
  const humidity = sensors.find((s) => s.key === '26-000000019a3b/humidity');
  assert.deepEqual(
    { name: humidity?.name, measurement: humidity?.measurement, quantity: humidity?.quantity, unit: humidity?.unit, topic: humidity?.topic, value: humidity?.value },
    { name: '26-000000019a3b/humidity', measurement: 'humidity', quantity: 'humidity', unit: '%', topic: 'home/1wire/26-000000019a3b/humidity', value: 49.831 },
  );
  assert.equal(sensors.find((s) => s.key === '26-000000019a3b/vdd')?.unit, 'V');
  const presence = sensors.find((s) => s.key === '01-0000efbeadde');
  assert.deepEqual([presence?.quantity, presence?.unit, presence?.text, presence?.topic], ['presence', '', 'online', 'home/1wire/01-0000efbeadde/presence']);
  const boiler = sensors.find((s) => s.key === '28-01192e4f6a10');
  assert.match(boiler?.fault?.summary ?? '', /^power-on 85 °C, \d+ times?$/);

  // History: the same chip in either notation; unknown ids are a 404 with a hint.
  const bySysfs = await getJson<History>(webPort, '/api/history?sensor=28-0316a2792dff');
  const byOwfs = await getJson<History>(webPort, '/api/history?sensor=28.FF2D79A21603');
  assert.equal(bySysfs.sensor, '28-0316a2792dff');
  assert.equal(byOwfs.sensor, '28-0316a2792dff');
  assert.ok(bySysfs.t.length >= 1 && bySysfs.v.every((v) => v === 23.125));
  const rh = await getJson<History>(webPort, '/api/history?sensor=26.3B9A01000000/humidity');
  assert.equal(rh.sensor, '26-000000019a3b/humidity');
  assert.ok(rh.t.length >= 1 && rh.v.every((v) => v === 49.831), JSON.stringify(rh));
  const failed = await getJson<History>(webPort, '/api/history?sensor=28-0000072d3e08');
  assert.ok(failed.v.length >= 1 && failed.v.every((v) => v === null), 'failed reads are gaps');
  const all = await getJson<{ sensors: Record<string, unknown> }>(webPort, '/api/history');
  assert.equal(Object.keys(all.sensors).length, expected);
  const missing = await http(webPort, '/api/history?sensor=28-000000000001');
  assert.equal(missing.status, 404);
  assert.match(missing.body, /either id notation/);

  const status = await getJson<{ broker: { connected: boolean }; buses: { label: string; sensors: number; lastCycleMs: number | null }[] }>(webPort, '/api/status');
  assert.equal(status.broker.connected, true);
  assert.deepEqual(status.buses.map((b) => [b.label, b.sensors]).sort(), [['w1_bus_master1', 12], ['w1_bus_master2', 7]]);
  assert.ok(status.buses.every((b) => typeof b.lastCycleMs === 'number'));

  const events = await firstEvent(webPort, '/api/events');
  assert.equal(events.status, 200);
  assert.match(events.type ?? '', /^text\/event-stream/);
  assert.equal(events.event, 'snapshot');
  assert.equal((events.data as { sensors: unknown[] }).sensors.length, expected);
});

test('API: read-only, strict headers, only its own files, only loopback Host names', T, async (t) => {
  const { webPort } = await startWebAgent(t);
  const page = await http(webPort, '/');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline script, no other origin');
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]/, 'no inline script in the page');
  assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'every asset from this server');

  for (const asset of ['/app.js', '/style.css', '/vendor/uPlot.iife.min.js', '/vendor/uPlot.min.css', '/favicon.svg']) {
    const res = await http(webPort, asset);
    assert.equal(res.status, 200, asset);
    assert.ok(res.body.length > 0, asset);
    const again = await http(webPort, asset, { headers: { 'If-None-Match': String(res.headers['etag']) } });
    assert.equal(again.status, 304, `${asset} revalidates with its ETag`);
  }
  assert.match(String((await http(webPort, '/app.js')).headers['content-type']), /^text\/javascript/);

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const res = await http(webPort, '/api/sensors', { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers['allow'], 'GET, HEAD');
  }
  const head = await http(webPort, '/api/sensors', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');

  for (const path of ['/../package.json', '/%2e%2e/package.json', '/web/index.html', '/src/main.ts', '/node_modules/uplot/package.json']) {
    assert.equal((await http(webPort, path)).status, 404, path);
  }
  // DNS rebinding: a page on another name pointed at 127.0.0.1 gets nothing.
  const rebound = await http(webPort, '/api/sensors', { headers: { Host: `attacker.example:${webPort}` } });
  assert.equal(rebound.status, 421);
  for (const host of [`localhost:${webPort}`, `127.0.0.1:${webPort}`, `[::1]:${webPort}`]) {
    assert.equal((await http(webPort, '/api/status', { headers: { Host: host } })).status, 200, host);
  }
});

test('web.password_file: 401 without or with a wrong password, 200 with the right one', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-webpass-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'web.pass');
  await writeFile(file, 'correct horse\n', { mode: 0o600 });
  const { webPort } = await startWebAgent(t, { web: { username: 'pi', password_file: file } });
  const basic = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

  const none = await http(webPort, '/api/sensors');
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="w1mqtt"/);
  assert.equal((await http(webPort, '/', { headers: basic('pi', 'wrong') })).status, 401);
  assert.equal((await http(webPort, '/', { headers: basic('admin', 'correct horse') })).status, 401);
  assert.equal((await http(webPort, '/api/events', { headers: basic('pi', 'nope') })).status, 401);
  assert.equal((await http(webPort, '/', { headers: basic('pi', 'correct horse') })).status, 200);
  assert.equal((await http(webPort, '/api/status', { headers: basic('pi', 'correct horse') })).status, 200);
});

test('history: saved once on a clean stop, loaded at the next start; an unreadable file is kept aside', T, async (t) => {
  const first = await startWebAgent(t);
  const before = await eventually('three readings of the living room', async () => {
    const h = await getJson<History>(first.webPort, '/api/history?sensor=28-0316a2792dff');
    return h.t.length >= 3 ? h : undefined;
  });
  assert.equal(await stat(join(first.stateDir, 'history.json')).catch(() => undefined), undefined, 'nothing written while running');
  assert.equal(await first.agent.stop(), 0);
  const saved = await first.agent.waitForLog((l) => l['msg'] === 'history saved');
  assert.equal(saved['sensors'], 19);
  const file = JSON.parse(await readFile(join(first.stateDir, 'history.json'), 'utf8')) as { format: string; sensors: Record<string, { t0: number; v: unknown[] }> };
  assert.equal(file.format, 'w1mqtt-history');
  assert.equal(file.sensors['28-0316a2792dff']?.t0, before.t[0]);
  assert.ok((file.sensors['28-0316a2792dff']?.v.length ?? 0) >= before.t.length);

  // A second agent on the same state directory starts with that history.
  const second = first.again();
  const loaded = await second.waitForLog((l) => l['msg'] === 'history loaded', 30_000);
  assert.equal(loaded['sensors'], 19);
  await second.waitForLog((l) => l['module'] === 'web' && typeof l['url'] === 'string', 30_000);
  const after = await getJson<History>(first.webPort, '/api/history?sensor=28-0316a2792dff');
  assert.deepEqual(after.t.slice(0, before.t.length), before.t, 'the points from before the restart are there');
  assert.equal(await second.stop(), 0);

  // Garbage in history.json: a warning, the file moved aside, the agent runs.
  await writeFile(join(first.stateDir, 'history.json'), '{"format":"w1mqtt-history","version":1,"sensors":{"x":');
  const third = first.again();
  const warned = await third.waitForLog((l) => /saved history is unreadable/.test(String(l['msg'])), 30_000);
  assert.equal(warned['keptAs'], join(first.stateDir, 'history.json.invalid'));
  assert.match(await readFile(join(first.stateDir, 'history.json.invalid'), 'utf8'), /"sensors":\{"x":$/);
  await third.waitForLog((l) => l['module'] === 'web' && typeof l['url'] === 'string', 30_000);
  assert.equal(await third.stop(), 0);
});

test('a web port already in use is logged and the agent goes on publishing', { ...T, skip: noMosquitto }, async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  assert.ok(address !== null && typeof address === 'object');
  const { agent, brokerPort } = await startWebAgent(t, { web: { port: address.port }, waitForPage: false });
  const line = await agent.waitForLog((l) => l['module'] === 'web' && l['level'] === 50, 30_000);
  assert.equal(
    line['msg'],
    `web page not available: port ${address.port} on 127.0.0.1 is already in use (another web server?): set web.port in sensors.yaml; the agent goes on publishing without it`,
  );
  // The page starts (and fails) before the agent and its bundled broker: subscribe once that is up.
  await agent.waitForLog((l) => l['msg'] === 'running', 30_000);
  const sub = await subscribe({ port: brokerPort, topics: ['home/#'] });
  t.after(() => sub.stop());
  const first = await sub.waitFor((m) => m.topic === 'home/kitchen/temperature' && m.payload === '25.06', 20_000);
  assert.ok(first);
  // Still publishing afterwards: a fresh (not retained) reading arrives.
  await sub.waitFor((m) => m.topic === 'home/living-room/temperature' && !m.retained, 20_000);
  assert.equal(agent.child.exitCode, null);
});

test('a page open to the network without a password is refused, by check and by run', T, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const refused = await ws.writeConfig(`sources:\n  - type: w1\n    path: ${ws.w1}\nweb:\n  host: 0.0.0.0\n  port: ${await freePort()}\n`);
  const check = await runCli(['check', '--config', refused]);
  assert.equal(check.code, 1);
  assert.match(check.stdout, /sensors\.yaml:5:9 web\.host: the page would be open to the network on 0\.0\.0\.0 without a password: set web\.password_file/);
  const run = await runCli(['run', '--config', refused]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /web\.host: the page would be open to the network/);
  assert.match(run.stderr, /refusing to start/);

  for (const extra of ['  allow_anonymous: true\n', '  password_file: /etc/w1mqtt/web.pass\n']) {
    const file = await ws.writeConfig(`sources:\n  - type: w1\n    path: ${ws.w1}\nweb:\n  host: 192.168.1.10\n${extra}`);
    const ok = await runCli(['check', '--config', file]);
    assert.equal(ok.code, 0, `${extra}: ${ok.stdout}${ok.stderr}`);
  }
});
