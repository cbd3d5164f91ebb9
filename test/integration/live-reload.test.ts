import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureWorkspace, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { subscribe, type Subscriber } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';

/**
 * Live reload driven the way users do it: real edits of sensors.yaml (in place,
 * rename-over, delete and re-create, SIGHUP) under the running CLI, checked through
 * a real mosquitto_sub.
 */

const skip = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 120_000, skip };
const LIVING = '28-0316a2792dff';
const KITCHEN = '28-0316a27a1c44';
const GARAGE = '22-00000053e8a1';
const CELLAR = '42-00000014a7e2';

interface Setup {
  agent: AgentProcess;
  file: string;
  port: number;
  write(sensors: string[], extra?: string[]): Promise<void>;
  sub(): Promise<Subscriber>;
  reloaded(predicate?: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

async function setup(t: { after(fn: () => Promise<unknown>): void }, sensors: string[], opts: { head?: (port: number) => string[] } = {}): Promise<Setup> {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const head = opts.head?.(port) ?? [`broker: { port: ${port} }`];
  const text = (s: string[], extra: string[] = []) =>
    [...head, `sources: [{ type: w1, path: ${ws.w1} }]`, 'interval: 1s', 'unmapped: ignore', ...extra, 'sensors:', ...s.map((l) => `  ${l}`)].join('\n') + '\n';
  const file = await ws.writeConfig(text(sensors));
  const agent = startCli(['run', '--config', file]);
  t.after(() => agent.stop('SIGKILL'));
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 30_000);
  let reloads = 0;
  return {
    agent,
    file,
    port,
    write: (s, extra) => writeFile(file, text(s, extra)),
    async sub() {
      const sub = await subscribe({ port, topics: ['home/#'] });
      t.after(() => sub.stop());
      return sub;
    },
    /** The next reload outcome line (applied or refused) after the previous one. */
    reloaded(predicate = () => true) {
      let seen = 0;
      const target = ++reloads;
      return agent.waitForLog((l) => {
        const outcome = String(l['msg']).startsWith('config reloaded') || String(l['msg']).startsWith('sensors.yaml not applied') || String(l['msg']).startsWith('config reload failed');
        return outcome && ++seen >= target && predicate(l);
      }, 20_000);
    },
  };
}

const since = (agent: AgentProcess, line: Record<string, unknown>) => (l: Record<string, unknown>) => agent.logs.indexOf(l) > agent.logs.indexOf(line);

test('edits in place: add, remap, new offset and interval, remove; old retained topics cleared, other sensors uninterrupted', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/living/temperature`, `${GARAGE}: home/garage/temperature`]);
  const live = await s.sub();
  await live.waitFor((m) => m.topic === 'home/living/temperature' && m.payload === '23.13');
  await live.waitFor((m) => m.topic === 'home/garage/temperature' && m.payload === '19.50');

  // Add the cellar with an offset, move the living room to the kitchen topic.
  await s.write([`${LIVING}: home/kitchen/temperature`, `${GARAGE}: home/garage/temperature`, `${CELLAR}: { topic: home/cellar/temperature, offset: 1.5 }`]);
  const first = await s.reloaded();
  assert.deepEqual(first['added'], [CELLAR]);
  assert.deepEqual(first['changed'], [LIVING]);
  assert.match(String(first['msg']), /^config reloaded: sensors \+1 \(42-00000014a7e2\) -0 ~1 \(28-0316a2792dff: topic\)$/);
  await live.waitFor((m) => m.topic === 'home/living/temperature' && m.payload === '' && !m.retained);
  await live.waitFor((m) => m.topic === 'home/kitchen/temperature' && m.payload === '23.13');
  await live.waitFor((m) => m.topic === 'home/cellar/temperature' && m.payload === '19.56'); // 18.062 + 1.5
  // The garage went on without a restart of its schedule: no new "sensor found", more readings.
  assert.ok(!s.agent.logs.some((l) => since(s.agent, first)(l) && l['msg'] === 'sensor found' && l['sensor'] === GARAGE));
  const garageBefore = live.lines.filter((l) => l.startsWith('home/garage/')).length;
  await live.waitFor(() => live.lines.filter((l) => l.startsWith('home/garage/')).length >= garageBefore + 2, 10_000);

  // A new subscriber sees the new topics retained, and nothing for the old one.
  const fresh = await s.sub();
  await fresh.waitFor((m) => m.retained && m.topic === 'home/kitchen/temperature');
  await fresh.waitFor((m) => m.retained && m.topic === 'home/cellar/temperature');
  assert.ok(!fresh.retainedLines.some((m) => m.topic === 'home/living/temperature'), fresh.lines.join('\n'));

  // Remove the garage (unmapped: ignore, so it stops publishing): its topic is cleared too.
  await s.write([`${LIVING}: home/kitchen/temperature`, `${CELLAR}: { topic: home/cellar/temperature, offset: 1.5, interval: 2s }`]);
  const second = await s.reloaded();
  assert.deepEqual(second['removed'], [GARAGE]);
  assert.match(String(second['msg']), /~1 \(42-00000014a7e2: interval\)/);
  await live.waitFor((m) => m.topic === 'home/garage/temperature' && m.payload === '');
  await s.agent.waitForLog((l) => l['msg'] === 'sensor no longer polled (sensors.yaml)' && l['sensor'] === GARAGE);
  const later = await s.sub();
  await later.waitFor((m) => m.retained && m.topic === 'home/kitchen/temperature');
  assert.ok(!later.retainedLines.some((m) => m.topic === 'home/garage/temperature' || m.topic === 'home/living/temperature'), later.lines.join('\n'));
  assert.equal(await s.agent.stop(), 0);
});

test('a broken edit keeps the running config and logs every problem with file:line:col; the next good edit applies', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/living/temperature`]);
  const live = await s.sub();
  await live.waitFor((m) => m.topic === 'home/living/temperature');

  await writeFile(s.file, 'sensors: [\n  oops: {\n');
  const syntax = await s.reloaded();
  assert.match(String(syntax['msg']), /^sensors\.yaml not applied: \d+ problems?; still running the previous config$/);
  assert.ok(s.agent.logs.some((l) => l['level'] === 50 && new RegExp(`^${s.file}:\\d+:\\d+: `).test(String(l['msg']))));

  await s.write([`${LIVING}: { topic: home/living/temperature, intervall: 5s }`, `29-xyz: home/nowhere`], ['mqtt: { qos: 7 }']);
  const schema = await s.reloaded();
  assert.equal(schema['problems'], 3);
  const problems = s.agent.logs.filter((l) => since(s.agent, syntax)(l) && l['level'] === 50 && typeof l['line'] === 'number').map((l) => String(l['msg']));
  assert.deepEqual(
    problems.map((p) => p.replace(s.file, 'sensors.yaml')),
    [
      'sensors.yaml:5:14 mqtt.qos: qos must be 0, 1 or 2',
      'sensors.yaml:7:54 sensors.28-0316a2792dff.intervall: unknown key "intervall" (did you mean "interval"?)',
      'sensors.yaml:8:3 sensors.29-xyz: "29-xyz" is not a 1-Wire id (e.g. 28-0316a2792dff or 28.FF2D79A21603)',
    ],
  );
  // Still publishing under the running config.
  const count = live.lines.length;
  await live.waitFor(() => live.lines.slice(count).some((l) => l.startsWith('home/living/temperature ')), 10_000);

  await s.write([`${LIVING}: home/lounge/temperature`]);
  const fixed = await s.reloaded();
  assert.match(String(fixed['msg']), /^config reloaded: sensors \+0 -0 ~1/);
  await live.waitFor((m) => m.topic === 'home/lounge/temperature' && m.payload === '23.13');
  assert.equal(await s.agent.stop(), 0);
});

test('an editor that saves by rename, a file deleted and created again, and SIGHUP all reload', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/living/temperature`]);
  const live = await s.sub();
  await live.waitFor((m) => m.topic === 'home/living/temperature');

  // vim / sed -i: a new file renamed over the old one (a new inode).
  const text = await readFile(s.file, 'utf8');
  await writeFile(`${s.file}.swp`, text.replace('home/living/temperature', 'home/renamed/temperature'));
  await rename(`${s.file}.swp`, s.file);
  const renamed = await s.reloaded();
  assert.match(String(renamed['msg']), /~1 \(28-0316a2792dff: topic\)/);
  await live.waitFor((m) => m.topic === 'home/renamed/temperature');

  // Deleted: the agent keeps going; created again: applied.
  await rm(s.file);
  await s.agent.waitForLog((l) => l['msg'] === 'sensors.yaml is gone: still running the previous config until it is back');
  const count = live.lines.length;
  await live.waitFor(() => live.lines.slice(count).some((l) => l.startsWith('home/renamed/temperature ')), 10_000);
  await writeFile(s.file, text.replace('home/living/temperature', 'home/recreated/temperature'));
  await s.reloaded((l) => /~1 \(28-0316a2792dff: topic\)/.test(String(l['msg'])));
  await live.waitFor((m) => m.topic === 'home/recreated/temperature');

  // SIGHUP (systemctl reload): re-read even without a file event.
  s.agent.child.kill('SIGHUP');
  const hup = await s.reloaded();
  assert.equal(hup['reason'], 'SIGHUP');
  assert.equal(hup['msg'], 'config reloaded: no changes');
  assert.equal(await s.agent.stop(), 0);
});

test('connection changes reconnect in-process: new client id, another broker, the bundled broker moved', T, async (t) => {
  const a = await startMosquitto();
  t.after(() => a.stop());
  const b = await startMosquitto();
  t.after(() => b.stop());
  const s = await setup(t, [`${LIVING}: home/living/temperature`, `${CELLAR}: home/cellar/temperature`], {
    head: () => [`mqtt: { url: 'mqtt://127.0.0.1:${a.port}', client_id: pi-one }`],
  });
  const subA = await subscribe({ port: a.port, topics: ['home/#'] });
  t.after(() => subA.stop());
  await subA.waitFor((m) => m.topic === 'home/w1mqtt/pi-one/status' && m.payload === 'online');
  const pid = s.agent.pid;

  // New client id: a new connection with a new Last Will; the old status topic is cleared.
  await writeFile(s.file, (await readFile(s.file, 'utf8')).replace('client_id: pi-one', 'client_id: pi-two'));
  const renamed = await s.reloaded((l) => /mqtt reconnect \(client_id\)/.test(String(l['msg'])));
  assert.deepEqual(renamed['reconnect'], ['mqtt.client_id']);
  await subA.waitFor((m) => m.topic === 'home/w1mqtt/pi-two/status' && m.payload === 'online');
  await subA.waitFor((m) => m.topic === 'home/w1mqtt/pi-one/status' && m.payload === '');
  const n = subA.lines.length;
  await subA.waitFor(() => subA.lines.slice(n).some((l) => l.startsWith('home/cellar/temperature ')), 10_000);

  // Another broker: retained values go with the readings to b; a sees the clean goodbye.
  await writeFile(s.file, (await readFile(s.file, 'utf8')).replace(`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`));
  await s.reloaded((l) => /mqtt reconnect \(url\)/.test(String(l['msg'])));
  await subA.waitFor((m) => m.topic === 'home/w1mqtt/pi-two/status' && m.payload === 'offline');
  const subB = await subscribe({ port: b.port, topics: ['home/#'] });
  t.after(() => subB.stop());
  await subB.waitFor((m) => m.topic === 'home/living/temperature' && m.payload === '23.13');

  // No mqtt.url any more: the bundled broker starts on a free port and carries the readings.
  const bundledPort = await freePort();
  await writeFile(s.file, (await readFile(s.file, 'utf8')).replace(/^mqtt: .*$/m, `broker: { port: ${bundledPort} }`));
  await s.reloaded((l) => l['broker'] === 'start');
  const subC = await subscribe({ port: bundledPort, topics: ['home/#'] });
  t.after(() => subC.stop());
  await subC.waitFor((m) => m.topic === 'home/cellar/temperature');

  // Move the bundled broker: mosquitto restarted on the new listener, retained values kept (persistence).
  const movedPort = await freePort();
  await writeFile(s.file, (await readFile(s.file, 'utf8')).replace(`port: ${bundledPort}`, `port: ${movedPort}`));
  await s.reloaded((l) => Array.isArray(l['settings']) && l['settings'].includes('broker.port'));
  const subD = await subscribe({ port: movedPort, topics: ['home/#'] });
  t.after(() => subD.stop());
  await subD.waitFor((m) => m.retained && m.topic === 'home/living/temperature');
  assert.equal(s.agent.pid, pid, 'the same process throughout');
  assert.equal(s.agent.child.exitCode, null);
  assert.equal(await s.agent.stop(), 0);
});

test('a reconnect that cannot work (missing password file) keeps the running connection', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/living/temperature`]);
  const live = await s.sub();
  await live.waitFor((m) => m.topic === 'home/living/temperature');
  // An external broker (the bundled one's port) with a password file that is not there. The bundled broker
  // itself ignores mqtt credentials: the agent reaches it through a socket private to the service user.
  await s.write([`${LIVING}: home/living/temperature`], [`mqtt: { url: "mqtt://127.0.0.1:${s.port}", username: pi, password_file: ${join(s.file, '..', 'missing.pass')} }`]);
  const failed = await s.reloaded();
  assert.equal(failed['msg'], 'config reload failed: still running the previous config');
  assert.match(String(failed['err']), /cannot read mqtt\.password_file/);
  const n = live.lines.length;
  await live.waitFor(() => live.lines.slice(n).some((l) => l.startsWith('home/living/temperature 23.13')), 15_000);
  assert.equal(await s.agent.stop(), 0);
});
