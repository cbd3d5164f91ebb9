import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixtureWorkspace, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { havePython, startNotifyReceiver, type NotifyMessage } from '../helpers/notify-receiver.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/until.js';

/**
 * Type=notify end to end: the real agent as a child process, NOTIFY_SOCKET pointing
 * at a real AF_UNIX datagram socket that records each message with its sender's PID
 * (what PID 1 checks with NotifyAccess=main).
 */

const skip = (!havePython() && 'python3 not installed') || (!haveMosquitto() && 'mosquitto not installed');
const T = { timeout: 90_000, skip };
const LIVING = '28-0316a2792dff'; // bus 1
const CELLAR = '42-00000014a7e2'; // bus 2

async function workspace(t: { after(fn: () => Promise<void>): void }, extra = ''): Promise<{ dir: string; w1: string; port: number; file: string }> {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const file = await ws.writeConfig(
    [`broker: { port: ${port} }`, `sources: [{ type: w1, path: ${ws.w1} }]`, 'interval: 1s', 'unmapped: ignore', 'sensors:', `  ${LIVING}: home/living/temperature`, `  ${CELLAR}: home/cellar/temperature`, extra].join('\n'),
  );
  return { dir: ws.dir, w1: ws.w1, port, file };
}

function run(t: { after(fn: () => Promise<unknown>): void }, file: string, env: NodeJS.ProcessEnv, ownWatchdogPid = false): AgentProcess {
  const agent = startCli(['run', '--config', file], { env, ownWatchdogPid });
  t.after(() => agent.stop('SIGKILL'));
  return agent;
}

const count = (messages: readonly NotifyMessage[], key: string): number => messages.filter((m) => m.fields[key] !== undefined).length;

test('READY once connected, readable STATUS, WATCHDOG from our PID every WATCHDOG_USEC/2, STOPPING on SIGTERM', T, async (t) => {
  const receiver = await startNotifyReceiver();
  t.after(() => receiver.stop());
  const ws = await workspace(t);
  const agent = run(t, ws.file, { NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '1000000' }, true);

  const ready = await receiver.waitFor((m) => m.fields['READY'] === '1', 30_000);
  assert.equal(ready.pid, agent.pid, 'sent by the main process itself (NotifyAccess=main works)');
  assert.match(ready.fields['STATUS'] ?? '', /^2 sensors, .*broker connected/);
  // READY means the publish path is up: a subscriber already finds the retained status.
  const sub = await subscribe({ port: ws.port, topics: ['home/#'] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic.endsWith('/status') && m.payload === 'online' && m.retained);

  await receiver.waitFor(() => count(receiver.messages, 'WATCHDOG') >= 3, 20_000);
  for (const m of receiver.messages.filter((x) => x.fields['WATCHDOG'] !== undefined)) {
    assert.equal(m.fields['WATCHDOG'], '1');
    assert.equal(m.pid, agent.pid);
  }
  const status = await receiver.waitFor((m) => /^2 sensors, last cycle \d+\.\d s, broker connected$/.test(m.fields['STATUS'] ?? ''), 20_000);
  assert.equal(status.pid, agent.pid);

  assert.equal(await agent.stop(), 0);
  const stopping = receiver.messages.findIndex((m) => m.fields['STOPPING'] === '1');
  assert.ok(stopping >= 0, 'STOPPING=1 sent');
  assert.ok(receiver.messages.slice(stopping).every((m) => m.fields['WATCHDOG'] === undefined), 'no watchdog ping after STOPPING=1');
});

test('WATCHDOG_PID naming another process: no WATCHDOG=1 at all', T, async (t) => {
  const receiver = await startNotifyReceiver();
  t.after(() => receiver.stop());
  const ws = await workspace(t);
  // The test runner's PID: a watchdog meant for a parent, not for the agent.
  const agent = run(t, ws.file, { NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) });
  await receiver.waitFor((m) => m.fields['READY'] === '1', 30_000);
  // Several polling cycles (interval 1 s) later there would have been many pings every 200 ms.
  let readings = 0;
  await agent.waitForLog((l) => l['msg'] === 'reading' && l['sensor'] === CELLAR && ++readings >= 4, 20_000);
  assert.equal(count(receiver.messages, 'WATCHDOG'), 0);
  assert.ok(!agent.logs.some((l) => l['msg'] === 'feeding the systemd watchdog'));
  assert.equal(await agent.stop(), 0);
});

test('READY=1 waits for the external broker; STATUS says what it waits for', T, async (t) => {
  const receiver = await startNotifyReceiver();
  t.after(() => receiver.stop());
  const ws = await workspace(t);
  const brokerPort = await freePort();
  await writeFile(ws.file, (await readFile(ws.file, 'utf8')).replace(/^broker:.*$/m, `mqtt: { url: 'mqtt://127.0.0.1:${brokerPort}' }`));
  const agent = run(t, ws.file, { NOTIFY_SOCKET: receiver.socket });
  const waiting = await receiver.waitFor((m) => (m.fields['STATUS'] ?? '').startsWith('starting: waiting for the MQTT broker'), 30_000);
  assert.equal(waiting.fields['READY'], undefined);
  // The agent is up and reading, but nothing can be published yet: still no READY.
  await agent.waitForLog((l) => l['msg'] === 'reading', 20_000);
  assert.equal(count(receiver.messages, 'READY'), 0);

  const mosquitto = await startMosquitto({ port: brokerPort });
  t.after(() => mosquitto.stop());
  const ready = await receiver.waitFor((m) => m.fields['READY'] === '1', 40_000);
  assert.match(ready.fields['STATUS'] ?? '', /broker connected/);
  assert.equal(await agent.stop(), 0);
});

test('a hung read stops the watchdog pings until it returns; other buses keep reading', T, async (t) => {
  const receiver = await startNotifyReceiver();
  t.after(() => receiver.stop());
  const ws = await workspace(t);
  const agent = run(t, ws.file, { NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '2000000' }, true);
  await receiver.waitFor(() => count(receiver.messages, 'WATCHDOG') >= 2, 30_000);

  // A FIFO in place of w1_slave: the next read blocks in open() like a wedged kernel read.
  const slave = join(ws.w1, LIVING, 'w1_slave');
  const good = await readFile(slave, 'latin1');
  await rm(slave);
  execFileSync('mkfifo', [slave]);
  const unblock = (content: string): boolean => {
    try {
      const fd = openSync(slave, constants.O_WRONLY | constants.O_NONBLOCK); // ENXIO while nobody reads
      writeSync(fd, content);
      closeSync(fd);
      return true;
    } catch {
      return false;
    }
  };
  t.after(() => void unblock(''));

  await agent.waitForLog((l) => l['level'] === 50 && String(l['msg']).startsWith('a read has not returned'), 20_000);
  const stuckStatus = await receiver.waitFor((m) => /read of 28-0316a2792dff on w1_bus_master1 stuck for \d+ s/.test(m.fields['STATUS'] ?? ''), 15_000);
  assert.ok(stuckStatus);
  const pingsWhenStuck = count(receiver.messages, 'WATCHDOG');
  // The other bus goes on (its own worker), yet no ping is sent while the read hangs.
  let readings = 0;
  const since = agent.logs.length;
  await agent.waitForLog((l) => agent.logs.indexOf(l) >= since && l['msg'] === 'reading' && l['sensor'] === CELLAR && ++readings >= 3, 20_000);
  assert.equal(count(receiver.messages, 'WATCHDOG'), pingsWhenStuck, 'no WATCHDOG=1 while a read is stuck');

  // The read returns: a regular file goes back first so the next poll does not block again.
  // Open the FIFO's write end before the rename and write after it: unblocking first left a
  // moment in which the next poll could open the FIFO again and hang through the stop.
  await writeFile(`${slave}.new`, good);
  const writer = openSync(slave, constants.O_WRONLY | constants.O_NONBLOCK); // ENXIO unless the agent is blocked reading it
  await rename(`${slave}.new`, slave);
  writeSync(writer, good);
  closeSync(writer);
  await agent.waitForLog((l) => l['msg'] === 'the stuck read returned: feeding the systemd watchdog again', 20_000);
  await receiver.waitFor(() => count(receiver.messages, 'WATCHDOG') > pingsWhenStuck, 20_000);
  assert.equal(await agent.stop(), 0);
});

test('SIGTERM during a slow read: the read finishes, offline is published, exit 0 within TimeoutStopSec', T, async (t) => {
  const unit = await readFile(new URL('../../deploy/w1mqtt.service', import.meta.url), 'utf8');
  const stopSec = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
  assert.ok(stopSec >= 10, 'the unit sets TimeoutStopSec');
  // An external broker keeps the retained status after the agent is gone.
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.stop());
  const ws = await workspace(t);
  await writeFile(ws.file, (await readFile(ws.file, 'utf8')).replace(/^broker:.*$/m, `mqtt: { url: '${mosquitto.url}' }`));
  const slave = join(ws.w1, LIVING, 'w1_slave');
  const good = await readFile(slave, 'latin1');
  await rm(slave);
  execFileSync('mkfifo', [slave]);
  const agent = run(t, ws.file, {});
  await agent.waitForLog((l) => l['msg'] === 'running', 30_000);

  // Hold the write end open: the agent's read is now in progress and waits for data.
  // ENXIO until the agent has the FIFO open for reading.
  const opened = (): number | undefined => {
    try {
      return openSync(slave, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
  };
  let fd: number | undefined = await waitFor('the agent to open the sensor', opened, 20_000, 20);
  t.after(() => {
    if (fd !== undefined) closeSync(fd);
  });
  agent.child.kill('SIGTERM');
  await agent.waitForLog((l) => l['msg'] === 'stopping', 10_000);
  assert.equal(agent.child.exitCode, null, 'still waiting for the read');
  writeSync(fd, good);
  closeSync(fd);
  fd = undefined;
  // TimeoutStopSec as the bound: exit code 0, not a SIGKILL (the code would be the signal's name), nor still running.
  const code = await Promise.race([agent.exited, sleep(stopSec * 1000, 'still running at TimeoutStopSec', { ref: false })]);
  assert.equal(code, 0, 'clean exit before systemd would SIGKILL');
  assert.ok(agent.logs.some((l) => l['msg'] === 'stopped'));
  const sub = await subscribe({ port: mosquitto.port, topics: ['home/#'] });
  t.after(() => sub.stop());
  await sub.waitFor((m) => m.topic.endsWith('/status') && m.payload === 'offline' && m.retained);
  await sub.waitFor((m) => m.topic === 'home/living/temperature' && m.payload === '23.13', 5_000);
});

test('abstract NOTIFY_SOCKET: the systemd-notify fallback carries READY and STOPPING', T, async (t) => {
  const receiver = await startNotifyReceiver({ abstract: true });
  t.after(() => receiver.stop());
  const ws = await workspace(t);
  const agent = run(t, ws.file, { NOTIFY_SOCKET: receiver.socket });
  const chosen = await agent.waitForLog((l) => l['msg'] === 'systemd notify socket', 30_000);
  assert.equal(chosen['transport'], 'systemd-notify');
  const ready = await receiver.waitFor((m) => m.fields['READY'] === '1', 30_000);
  assert.match(ready.fields['STATUS'] ?? '', /broker connected/);
  // systemd-notify follows each message with BARRIER=1 and an fd, and waits until it is closed.
  await receiver.waitFor((m) => m.fields['BARRIER'] === '1' && m.fds === 1, 10_000);
  assert.equal(await agent.stop(), 0);
  assert.ok(receiver.messages.some((m) => m.fields['STOPPING'] === '1'));
});

test('SIGHUP and file edits: RELOADING=1 then READY=1; a broken edit shows in STATUS', T, async (t) => {
  const receiver = await startNotifyReceiver();
  t.after(() => receiver.stop());
  const ws = await workspace(t);
  const agent = run(t, ws.file, { NOTIFY_SOCKET: receiver.socket });
  await receiver.waitFor((m) => m.fields['READY'] === '1', 30_000);
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 10_000);

  agent.child.kill('SIGHUP');
  const reloading = await receiver.waitFor((m) => m.fields['RELOADING'] === '1', 15_000);
  assert.match(reloading.fields['MONOTONIC_USEC'] ?? '', /^\d+$/);
  const at = receiver.messages.indexOf(reloading);
  await receiver.waitFor((m) => receiver.messages.indexOf(m) > at && m.fields['READY'] === '1', 15_000);
  await agent.waitForLog((l) => l['msg'] === 'config reloaded: no changes' && l['reason'] === 'SIGHUP');

  await writeFile(ws.file, (await readFile(ws.file, 'utf8')).replace('interval: 1s', 'interval: fast'));
  const broken = await receiver.waitFor((m) => /sensors\.yaml not applied: .*sensors\.yaml:3:11 interval: not a duration/.test(m.fields['STATUS'] ?? ''), 15_000);
  assert.equal(broken.fields['READY'], '1', 'still running (the previous config)');
});
