import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureWorkspace, runCli, startCli } from '../helpers/agent-process.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const CLIENT_ID = 'w1mqtt-sys';

test("$SYS from the bundled mosquitto itself, and the agent's stats topic", { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const file = await ws.writeConfig(`
broker: { port: ${port}, sys_interval: 1s }
mqtt: { client_id: ${CLIENT_ID}, stats_interval: 1s }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: ['$SYS/broker/#', `home/w1mqtt/${CLIENT_ID}/stats`] });
  t.after(() => sub.stop());
  const value = async (name: string, re: RegExp): Promise<string> => {
    const m = await sub.waitFor((m) => m.topic === `$SYS/broker/${name}` && re.test(m.payload), 10_000).catch((err: Error) => {
      throw new Error(`$SYS/broker/${name} never matched ${re}: ${err.message.slice(0, 2000)}`);
    });
    return m.payload;
  };

  assert.match(await value('version', /./), /^mosquitto version 2\.\d+\.\d+$/);
  await value('uptime', /^[2-9] seconds$|^\d{2,} seconds$/); // updated every sys_interval
  // The first values are retained from before this subscriber came; the next ones count it.
  const atLeast2 = /^([2-9]|\d{2,})$/;
  await value('clients/connected', atLeast2); // the agent and this subscriber
  await value('clients/maximum', atLeast2);
  await value('subscriptions/count', atLeast2); // this subscriber's two filters
  // Sensor topics, the status topic and $SYS itself are retained.
  assert.ok(Number(await value('retained messages/count', /^\d+$/)) >= 10);
  // mosquitto 2.0 leaves publish/messages/* at 0 for QoS 1 traffic; messages/* and bytes/* count it.
  for (const name of ['messages/received', 'messages/sent', 'bytes/received', 'bytes/sent']) {
    assert.ok(Number(await value(name, /^[1-9]\d*$/)) > 0, name);
  }
  for (const name of ['messages/received', 'messages/sent', 'publish/received', 'publish/sent', 'bytes/received', 'bytes/sent', 'connections', 'sockets']) {
    for (const w of ['1min', '5min', '15min']) await value(`load/${name}/${w}`, /^\d+(\.\d+)?$/);
  }
  // The published counters grow while the agent publishes.
  const first = Number(await value('messages/received', /^\d+$/));
  await value('messages/received', new RegExp(`^(?!${first}$)\\d+$`));

  // A stats message from before every bus finished its first cycle has no cycle time yet.
  const stats = await sub.waitFor((m) => {
    if (!m.topic.endsWith('/stats')) return false;
    const d = JSON.parse(m.payload) as { readings: { ok: number }; last_cycle_ms: unknown };
    return d.readings.ok > 0 && d.last_cycle_ms !== null;
  }, 20_000);
  const doc = JSON.parse(stats.payload) as Record<string, unknown>;
  assert.equal(doc['sensors'], 19); // every measurement of the fixture bus: 14 thermometers, a DS2438's four, a DS2401's presence
  assert.equal(typeof doc['last_cycle_ms'], 'number');
  assert.ok((doc['readings'] as { failed: number }).failed > 0, 'the fixture has faulty sensors');
  assert.deepEqual(Object.keys(doc['queue'] as object), ['depth', 'dropped', 'rejected']);
  assert.equal((doc['mqtt'] as { connected: boolean }).connected, true);
});

test('w1mqtt passwd makes the password file the bundled broker uses; check refuses an open broker without one', { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const open = await ws.writeConfig('broker: { host: 0.0.0.0 }\n');
  const refused = await runCli(['check', '--config', open]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /sensors\.yaml:1:17 broker\.host: listening on 0\.0\.0\.0 lets other machines connect: set broker\.password_file/);
  const run = await runCli(['run', '--config', open]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /refusing to start with an invalid config/);

  const passwd = join(ws.dir, 'passwd');
  const made = await runCli(['passwd', '-c', '-b', passwd, 'ha', 's3cret pass']);
  assert.equal(made.code, 0, made.stderr);
  assert.match(await readFile(passwd, 'utf8'), /^ha:\$7\$101\$/);
  const port = await freePort();
  const file = await ws.writeConfig(`# the agent's config\nbroker:\n  port: ${port}   # a free port\n  password_file: ${passwd}\nsources: [{ type: w1, path: ${ws.w1} }]\ninterval: 1s\n`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: ['home/#'], username: 'ha', password: 's3cret pass' });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature', 10_000);
  await assert.rejects(subscribe({ port, topics: ['home/#'] }), /not authori[sz]ed/i);
  await assert.rejects(subscribe({ port, topics: ['home/#'], username: 'ha', password: 's3cret' }), /bad user name or password|not authori[sz]ed/i);

  // A second user, added while the agent runs, then `systemctl reload` (SIGHUP): nobody is dropped.
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 30_000);
  assert.equal((await runCli(['passwd', '-b', passwd, 'phone', 'phone pass'])).code, 0);
  process.kill(agent.pid, 'SIGHUP');
  await agent.waitForLog((l) => l['module'] === 'broker' && l['msg'] === 'Reloading config.', 20_000);
  const phone = await subscribe({ port, topics: ['home/#'], username: 'phone', password: 'phone pass' });
  t.after(() => phone.stop());
  await phone.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature', 10_000);
  assert.equal(agent.logs.some((l) => l['msg'] === 'connection lost' || l['msg'] === 'reconnected'), false);
});
