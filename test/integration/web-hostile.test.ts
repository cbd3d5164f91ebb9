import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { http } from '../helpers/http.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { freshReading, raiseFdLimit, usage, watchUsage } from '../helpers/proc-usage.js';
import { until } from '../helpers/until.js';
import { FAULTY, GOOD_VALUES } from '../helpers/web-agent.js';

/**
 * The live page under hostile load, on a real `w1mqtt run` whose descriptors are limited to
 * 1024 (as a service's soft limit often is): a day of history at 5 s for 19 sensors, event
 * streams that never read, thousands of idle connections, thousands of wrong passwords.
 * Each is refused or bounded at the page, logged once, and fresh readings keep reaching a
 * real mosquitto_sub throughout.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const KITCHEN = 'home/kitchen/temperature';
const PASSWORD = 'correct horse';
const AUTH = `Basic ${Buffer.from(`w1mqtt:${PASSWORD}`).toString('base64')}`;
const WRONG = `Basic ${Buffer.from('w1mqtt:guess').toString('base64')}`;
const STEP = { timeout: 60_000 };

/** history.json as the agent saves it: a day at 5 s for each of `keys` (the fixture's 19 measurements, so the snapshot carries them too). */
function dayOfHistory(keys: readonly string[], now: number): string {
  const points = (24 * 3600) / 5;
  const series = { intervalMs: 5000, t0: now - points * 5000, dt: Array.from({ length: points }, (_, i) => (i === 0 ? 0 : 5000)), v: Array.from({ length: points }, (_, i) => 20 + Math.sin(i / 500)) };
  const all: Record<string, unknown> = {};
  for (const key of keys) all[key] = series;
  return JSON.stringify({ format: 'w1mqtt-history', version: 1, savedAt: new Date(now).toISOString(), sensors: all });
}

function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('the page under hostile load: chart-sized history, non-reading streams, 3 000 idle connections, 2 000 guesses; readings flow', { timeout: 180_000, skip: noMosquitto }, async (t) => {
  assert.ok(raiseFdLimit(8192) >= 4000, 'this test needs 4 000 descriptors of its own');
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const [port, webPort] = [await freePort(), await freePort()];
  const state = join(ws.dir, 'state');
  await mkdir(state);
  await writeFile(join(state, 'history.json'), dayOfHistory([...Object.keys(GOOD_VALUES), ...Object.keys(FAULTY)], Date.now()));
  await writeFile(join(ws.dir, 'web.pass'), `${PASSWORD}\n`, { mode: 0o640 });
  const file = await ws.writeConfig(`
broker: { port: ${port} }
mqtt: { client_id: w1mqtt-page-hostile }
web: { port: ${webPort}, password_file: ${join(ws.dir, 'web.pass')} }
state_dir: ${state}
sources: [{ type: w1, path: ${ws.w1} }]
interval: 5s
sensors:
  28-0316a2792dff: { topic: ${KITCHEN}, interval: 1s }
`);
  // The agent's own descriptors limited as a service's may be: the page must leave the buses theirs.
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' }, wrap: ['prlimit', '--nofile=1024:1024', '--'] });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('web page at '), 30_000);
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: [KITCHEN] });
  t.after(() => sub.stop());
  await freshReading(sub, KITCHEN, 15_000);
  const warnings = (kind: string) => agent.logs.filter((l) => l['kind'] === kind && l['level'] === 40).length;

  await t.test('a day of history at 5 s for 19 sensors: /api/history and the snapshot are chart-sized', STEP, async (tt) => {
    const started = Date.now();
    const res = await http(webPort, '/api/history', { headers: { Authorization: AUTH } });
    const ms = Date.now() - started;
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body) as { sensors: Record<string, { t: number[] }> };
    const longest = Math.max(...Object.values(body.sensors).map((s) => s.t.length));
    tt.diagnostic(`/api/history: ${(res.body.length / 1e6).toFixed(2)} MB in ${ms} ms, at most ${longest} points per sensor (7.2 MB and 17 281 before)`);
    assert.ok(Object.keys(body.sensors).length >= 19);
    assert.ok(longest <= 720, `${longest} points`);
    assert.ok(res.body.length < 1_000_000, `${res.body.length} bytes`);
    // The snapshot an event stream starts with carries the same charts.
    const snapshot = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: webPort, path: '/api/events', headers: { Authorization: AUTH } }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (chunk: string) => {
          text += chunk;
          const end = text.indexOf('\n\n', text.indexOf('event: snapshot'));
          if (text.includes('event: snapshot') && end > 0) {
            req.destroy();
            resolve(end);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    tt.diagnostic(`the event stream's snapshot: ${(snapshot / 1e6).toFixed(2)} MB`);
    assert.ok(snapshot < 1_000_000, `${snapshot} bytes`);
    await freshReading(sub, KITCHEN);
  });

  await t.test('40 event streams that never read: 32 served and bounded, the rest refused (503), memory bounded', STEP, async (tt) => {
    const before = usage(agent.pid)?.rssMb ?? 0;
    const streams: Socket[] = [];
    tt.after(() => streams.forEach((s) => s.destroy()));
    const statuses: string[] = [];
    for (let i = 0; i < 40; i++) {
      const s = await rawConnect(webPort);
      streams.push(s);
      s.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${AUTH}\r\n\r\n`);
      // Read the status line only, then never again: the snapshot and every event pile up.
      statuses.push(await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString('latin1').split('\r\n')[0] ?? ''))));
      s.pause();
    }
    for (let i = 0; i < 3; i++) await freshReading(sub, KITCHEN);
    const after = usage(agent.pid)?.rssMb ?? 0;
    tt.diagnostic(`40 non-reading streams: ${statuses.filter((s) => s.includes(' 200')).length} served, ${statuses.filter((s) => s.includes(' 503')).length} refused; agent RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB`);
    assert.equal(statuses.filter((s) => s.includes(' 200')).length, 32);
    assert.equal(statuses.filter((s) => s.includes(' 503')).length, 8);
    assert.ok(after - before < 60, `RSS ${before} → ${after} MB`);
  });

  await t.test('3 000 idle connections: the page keeps 64, the buses keep their descriptors, logged once', STEP, async (tt) => {
    const idle: Socket[] = [];
    tt.after(() => idle.forEach((s) => s.destroy()));
    let closed = 0;
    await Promise.all(
      Array.from({ length: 3000 }, async () => {
        const s = await rawConnect(webPort).catch(() => undefined);
        if (!s) return;
        idle.push(s);
        s.on('error', () => undefined);
        s.on('close', () => closed++);
      }),
    );
    await until('the page to close what is over its limit', () => closed >= 3000 - 64 - 40, 20_000);
    for (let i = 0; i < 3; i++) await freshReading(sub, KITCHEN);
    tt.diagnostic(`3 000 idle connections: ${closed} closed by the page at once`);
    assert.equal(agent.logs.some((l) => JSON.stringify(l).includes('EMFILE')), false, 'no EMFILE anywhere');
    assert.equal(warnings('web_connection_limit'), 1);
    // Idle ones are closed after 10 s: the page answers again without the attacker letting go.
    await until('the idle connections to be closed', () => closed >= idle.length, 20_000);
    assert.equal((await http(webPort, '/api/status', { headers: { Authorization: AUTH } })).status, 200);
  });

  await t.test('2 000 wrong passwords from 4 connections: a handful checked, the rest 429, logged once', STEP, async (tt) => {
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 4 });
    tt.after(() => keepAlive.destroy());
    const used = watchUsage(agent.pid);
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 2000 }, () =>
        new Promise<number>((resolve) => {
          const req = request({ host: '127.0.0.1', port: webPort, path: '/api/status', agent: keepAlive, headers: { Authorization: WRONG } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', () => resolve(-1));
          req.end();
        }),
      ),
    );
    const { cpuS } = used.stop();
    const count = (code: number) => statuses.filter((s) => s === code).length;
    tt.diagnostic(`2 000 guesses in ${Date.now() - started} ms: ${count(401)} checked (401), ${count(429)} refused (429), agent ${cpuS.toFixed(2)} CPU s`);
    assert.ok(count(401) <= 10, `${count(401)} passwords checked`);
    assert.equal(count(401) + count(429), 2000);
    const line = await agent.waitForLog((l) => l['kind'] === 'web_auth' && l['level'] === 40, 5_000);
    assert.equal(line['address'], '127.0.0.1');
    assert.equal(warnings('web_auth'), 1);
    await freshReading(sub, KITCHEN);
  });

  assert.equal(await agent.stop(), 0);
});
