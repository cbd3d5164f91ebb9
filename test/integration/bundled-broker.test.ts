import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixtureWorkspace, runCli, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { findBinary, haveMosquitto, startMosquitto, stopChild } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/until.js';

/**
 * The bundled broker as users meet it: `w1mqtt run` without mqtt.url starts Debian's
 * mosquitto, configured from sensors.yaml, and real MQTT 5 clients read through it.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 120_000, skip: noMosquitto };
const KITCHEN = 'home/kitchen/temperature';

/** PIDs of every mosquitto whose command line names `conf`. */
function brokersUsing(conf: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('mosquitto') && cmd.includes(conf)) pids.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function agentOn(t: { after(fn: () => Promise<unknown>): void }, yaml: (ws: { w1: string; dir: string }) => string) {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const file = await ws.writeConfig(yaml(ws));
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  return { ws, file, agent };
}

const brokerPid = async (agent: AgentProcess): Promise<number> => Number((await agent.waitForLog((l) => l['msg'] === 'bundled broker listening'))['pid']);

test('MQTT 5: mosquitto_sub -V mqttv5 reads the readings, the status and mosquitto’s own $SYS', T, async (t) => {
  const port = await freePort();
  const { agent } = await agentOn(t, (ws) => `broker: { port: ${port}, sys_interval: 1s }\nmqtt: { client_id: w1mqtt-b5 }\nsources: [{ type: w1, path: ${ws.w1} }]\ninterval: 1s\nsensors:\n  28-0316a2792dff: ${KITCHEN}\n`);
  const connected = await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt');
  assert.equal(connected['protocol'], 5, 'the agent itself speaks MQTT 5 to its broker');
  const sub = await subscribe({ port, topics: ['home/#', '$SYS/broker/version', '$SYS/broker/clients/connected'], extra: ['-V', 'mqttv5'] });
  t.after(() => sub.stop());
  const reading = await sub.waitFor((m) => m.topic === KITCHEN, 15_000);
  assert.match(reading.payload, /^-?\d+\.\d\d$/);
  await sub.waitFor((m) => m.topic === 'home/w1mqtt/w1mqtt-b5/status' && m.payload === 'online' && m.retained);
  const version = await sub.waitFor((m) => m.topic === '$SYS/broker/version', 15_000);
  assert.match(version.payload, /^mosquitto version 2\.\d+\.\d+$/);
  await sub.waitFor((m) => m.topic === '$SYS/broker/clients/connected' && Number(m.payload) >= 2, 15_000);
  // mosquitto's own log reaches the agent's, under module broker.
  await agent.waitForLog((l) => l['module'] === 'broker' && /^mosquitto version .* starting$/.test(String(l['msg'])));
});

test('the broker child SIGKILLed: restarted, the agent reconnects, nothing it queued is lost', T, async (t) => {
  const port = await freePort();
  const { agent } = await agentOn(t, (ws) => `broker: { port: ${port} }\nsources: [{ type: w1, path: ${ws.w1} }]\ninterval: 1s\nunmapped: ignore\nmqtt: { payload: json }\nsensors:\n  28-0316a2792dff: ${KITCHEN}\n`);
  const first = await brokerPid(agent);
  process.kill(first, 'SIGKILL');
  await agent.waitForLog((l) => l['msg'] === 'bundled broker exited: starting it again' && l['signal'] === 'SIGKILL', 10_000);
  const again = await agent.waitForLog((l) => l['msg'] === 'bundled broker running again', 20_000);
  assert.notEqual(again['pid'], first);
  await agent.waitForLog((l) => l['msg'] === 'reconnected', 20_000);
  const sub = await subscribe({ port, topics: [KITCHEN] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === KITCHEN && !m.retained, 15_000);
  // At a clean stop the outbox has delivered all it was given: nothing dropped, nothing left.
  assert.equal(await agent.stop(), 0);
  const closed = agent.logs.find((l) => l['msg'] === 'outbox closed');
  assert.ok(closed, 'outbox closed line');
  assert.equal(closed['dropped'], 0);
  assert.equal(closed['rejected'], 0);
  assert.equal(closed['queued'], 0);
  assert.ok(Number(closed['delivered']) > 3);
});

test('the agent SIGKILLed and started again: one broker, never two; a leftover broker is stopped first', T, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const state = join(ws.dir, 'state');
  const file = await ws.writeConfig(`broker: { port: ${port} }\nsources: [{ type: w1, path: ${ws.w1} }]\ninterval: 1s\nstate_dir: ${state}\n`);
  const conf = join(state, 'broker', 'mosquitto.conf');
  const first = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => first.stop());
  await first.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  assert.equal(brokersUsing(conf).length, 1);
  await first.stop('SIGKILL');
  // The parent-death signal takes the broker down with the agent.
  await until('the broker to go with its killed agent', () => brokersUsing(conf).length === 0, 10_000);

  // A broker left over anyway (started by hand here, as one without a parent-death signal would be).
  const leftover = spawn(findBinary('mosquitto')!, ['-c', conf], { stdio: 'ignore', detached: true });
  t.after(() => stopChild(leftover));
  await until('the leftover broker to start', () => brokersUsing(conf).length === 1 && readdirSync(join(state, 'broker')).includes('mosquitto.pid'), 10_000);
  const second = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => second.stop());
  await second.waitForLog((l) => l['msg'] === 'stopping a bundled broker left over from an earlier run' && l['pid'] === leftover.pid, 20_000);
  await second.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  assert.deepEqual(brokersUsing(conf), [Number((await second.waitForLog((l) => l['msg'] === 'bundled broker listening'))['pid'])]);
  const sub = await subscribe({ port, topics: ['home/#'] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature', 15_000);
  assert.equal(await second.stop(), 0);
  assert.deepEqual(brokersUsing(conf), [], 'a clean stop stops the broker too');
});

test('a port held by another broker: the error names the port and the process that holds it', T, async (t) => {
  const other = await startMosquitto();
  t.after(() => other.stop());
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const file = await ws.writeConfig(`broker: { port: ${other.port} }\nsources: [{ type: w1, path: ${ws.w1} }]\n`);
  const run = await runCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' }, timeoutMs: 30_000 });
  assert.equal(run.code, 1);
  const fatal = run.logs.find((l) => l['msg'] === 'cannot start');
  assert.ok(fatal, run.stdout);
  assert.match(String(fatal['err']), new RegExp(`broker port ${other.port} \\(127\\.0\\.0\\.1\\) is already in use, held by PID ${other.pid} \\(.*mosquitto -c .*\\)`));
});

test('mosquitto missing: run and check both say to install it, exit 1', T, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const file = await ws.writeConfig(`sources: [{ type: w1, path: ${ws.w1} }]\n`);
  const env = { W1MQTT_LOG_FORMAT: 'json', W1MQTT_MOSQUITTO: join(ws.dir, 'no-such-mosquitto') };
  const check = await runCli(['check', '--config', file], { env });
  assert.equal(check.code, 1);
  assert.match(check.stdout, /the bundled broker needs mosquitto, which is not installed: sudo apt install mosquitto/);
  const run = await runCli(['run', '--config', file], { env, timeoutMs: 30_000 });
  assert.equal(run.code, 1);
  assert.match(String(run.logs.find((l) => l['msg'] === 'cannot start')?.['err']), /sudo apt install mosquitto/);
  // With an external broker, mosquitto is not needed.
  const external = await ws.writeConfig(`mqtt: { url: 'mqtt://127.0.0.1:1' }\nsources: [{ type: w1, path: ${ws.w1} }]\n`);
  assert.equal((await runCli(['check', '--config', external], { env })).code, 0);
});

test('live reload: a password file is applied by SIGHUP without dropping anyone; a new port restarts the broker, readings go on', T, async (t) => {
  const port = await freePort();
  const { ws, file, agent } = await agentOn(t, (w) => `broker: { port: ${port} }\nsources: [{ type: w1, path: ${w.w1} }]\ninterval: 1s\n`);
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 30_000);
  const pid = await brokerPid(agent);
  const passwd = join(ws.dir, 'passwd');
  // A password file that is not there yet: the reload is refused, the running broker stays open as it was.
  await ws.writeConfig(readFileSync(file, 'utf8').replace(`broker: { port: ${port} }`, `broker: { port: ${port}, password_file: ${passwd} }`));
  const refused = await agent.waitForLog((l) => l['msg'] === 'config reload failed: still running the previous config', 20_000);
  assert.match(String(refused['err']), /^broker\.password_file: cannot read .*passwd \(ENOENT\)/);
  const anonymous = await subscribe({ port, topics: ['home/#'] });
  await anonymous.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature' && !m.retained, 15_000);
  await anonymous.stop();
  await ws.writeConfig(`broker: { port: ${port} }\nsources: [{ type: w1, path: ${ws.w1} }]\ninterval: 1s\n`);
  const made = spawnSync(findBinary('mosquitto_passwd')!, ['-b', '-c', passwd, 'ha', 'ha-pass'], { timeout: 10_000 });
  assert.equal(made.status, 0, String(made.stderr));
  await ws.writeConfig(readFileSync(file, 'utf8').replace(`broker: { port: ${port} }`, `broker: { port: ${port}, password_file: ${passwd} }`));
  await agent.waitForLog((l) => String(l['msg']).startsWith('config reloaded') && String(l['msg']).includes('broker.password_file'), 20_000);
  await assert.rejects(subscribe({ port, topics: ['home/#'] }), /not authori[sz]ed/i);
  const ha = await subscribe({ port, topics: ['home/#'], username: 'ha', password: 'ha-pass' });
  t.after(() => ha.stop());
  await ha.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature' && !m.retained, 15_000);
  assert.equal(agent.logs.some((l) => l['msg'] === 'bundled broker listening' && l['pid'] !== pid), false, 'a SIGHUP, not a restart');

  // A user added to the file by hand: `systemctl reload` (SIGHUP) makes the broker read it.
  assert.equal(spawnSync(findBinary('mosquitto_passwd')!, ['-b', passwd, 'phone', 'phone-pass'], { timeout: 10_000 }).status, 0);
  process.kill(agent.pid, 'SIGHUP');
  await agent.waitForLog((l) => String(l['msg']).startsWith('SIGHUP'));
  let phone: Awaited<ReturnType<typeof subscribe>> | undefined;
  for (const deadline = Date.now() + 15_000; !phone && Date.now() < deadline; ) {
    phone = await subscribe({ port, topics: ['home/#'], username: 'phone', password: 'phone-pass' }).catch(() => undefined);
  }
  assert.ok(phone, 'the user added by hand is let in after SIGHUP');
  t.after(() => phone.stop());

  const moved = await freePort();
  await ws.writeConfig(readFileSync(file, 'utf8').replace(`port: ${port}`, `port: ${moved}`));
  await agent.waitForLog((l) => l['msg'] === 'bundled broker listening' && l['url'] === `mqtt://127.0.0.1:${moved}`, 30_000);
  const sub = await subscribe({ port: moved, topics: ['home/#'], username: 'ha', password: 'ha-pass' });
  t.after(() => sub.stop());
  // Retained values came back from persistence, and fresh readings flow.
  await sub.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature' && m.retained, 15_000);
  await sub.waitFor((m) => m.topic === 'home/1wire/28-0316a2792dff/temperature' && !m.retained, 15_000);
});
