import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureWorkspace, runCli, startCli } from '../helpers/agent-process.js';
import { answer, startFakeOwserver } from '../helpers/fake-owserver.js';
import { http } from '../helpers/http.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { freshReading, usage, watchUsage } from '../helpers/proc-usage.js';
import { until } from '../helpers/until.js';

/**
 * Files and sources that are not what they claim, on a real `w1mqtt run` with the bundled
 * mosquitto: a sensors.yaml of 50 MB live-reloaded, a host with a trailing space, a password
 * file that is a FIFO, a w1_slave that is /dev/zero, an owserver listing 5 843 devices. Each
 * is refused or bounded with one log line saying why, and fresh readings keep reaching a
 * real mosquitto_sub.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const KITCHEN = 'home/kitchen/temperature';
const ZERO_SENSOR = '28-0316a27a1c44';

test('check and run agree: a host with a trailing space and an oversized sensors.yaml are refused by check, with where and why', { timeout: 60_000 }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const spaced = await ws.writeConfig("web: { host: '127.0.0.1 ' }\n");
  const r = await runCli(['check', '--config', spaced]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /sensors\.yaml:1:\d+ web\.host: a host name or address cannot contain spaces/);
  const big = await ws.writeConfig(`# ${'x'.repeat(300 * 1024)}\ninterval: 5s\n`);
  const b = await runCli(['check', '--config', big]);
  assert.equal(b.code, 1);
  assert.match(b.stdout + b.stderr, /sensors\.yaml:1:1: cannot read: the file is 300 KiB \(\d+ bytes\), more than the 256 KiB it may be/);
});

test('a w1_slave that is /dev/zero and a 50 MB sensors.yaml reloaded: the sensor reported once, the reload refused, readings and the page go on', { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const zero = join(ws.w1, ZERO_SENSOR, 'w1_slave');
  await rm(zero);
  await symlink('/dev/zero', zero);
  const [port, webPort] = [await freePort(), await freePort()];
  const file = await ws.writeConfig(`
broker: { port: ${port} }
mqtt: { client_id: w1mqtt-files }
web: { port: ${webPort} }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
sensors:
  28-0316a2792dff: ${KITCHEN}
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  await agent.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('watching '), 30_000);
  const sub = await subscribe({ port, topics: [KITCHEN] });
  t.after(() => sub.stop());
  await freshReading(sub, KITCHEN, 15_000);

  // /dev/zero as w1_slave: each read ends at 4 KiB with EFBIG, the sensor's fault is logged once.
  const used = watchUsage(agent.pid);
  const fault = await agent.waitForLog((l) => JSON.stringify(l).includes('EFBIG'), 15_000);
  assert.match(JSON.stringify(fault), new RegExp(ZERO_SENSOR));
  for (let i = 0; i < 3; i++) await freshReading(sub, KITCHEN);
  const zeroUse = used.stop();
  t.diagnostic(`w1_slave = /dev/zero: agent ${zeroUse.cpuS.toFixed(2)} CPU s over ~3 readings, RSS peak ${zeroUse.peakRssMb.toFixed(0)} MB (before: reads never ended, ~165 % CPU)`);
  assert.equal(agent.logs.filter((l) => l['level'] === 40 && JSON.stringify(l).includes('EFBIG')).length, 1, 'the fault is logged once');
  assert.ok(zeroUse.cpuS < 3, `${zeroUse.cpuS} CPU s`);

  // 50 MB of sensors.yaml written over the running one: refused at once, saying its size.
  const before = usage(agent.pid)?.rssMb ?? 0;
  const reloadUse = watchUsage(agent.pid);
  await writeFile(file, `# ${'x'.repeat(50 * 1024 * 1024)}\n`);
  const refused = await agent.waitForLog((l) => typeof l['msg'] === 'string' && /cannot read: the file is 50\.0 MiB/.test(l['msg']), 20_000);
  // The page still answers (bounded by the request's own timeout) and readings go on: nothing waited on the 50 MB.
  const started = Date.now();
  const status = await http(webPort, '/api/status');
  const statusMs = Date.now() - started;
  for (let i = 0; i < 2; i++) await freshReading(sub, KITCHEN);
  const { peakRssMb, cpuS } = reloadUse.stop();
  t.diagnostic(`50 MB sensors.yaml: refused (${String(refused['msg'])}); /api/status in ${statusMs} ms; agent RSS ${before.toFixed(0)} → peak ${peakRssMb.toFixed(0)} MB, ${cpuS.toFixed(2)} CPU s`);
  assert.equal(status.status, 200);
  assert.ok(peakRssMb - before < 50, `RSS ${before} → ${peakRssMb} MB`);
  await agent.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('sensors.yaml not applied'), 5_000);
  assert.equal(await agent.stop(), 0);
});

test('web.password_file is a FIFO: the agent starts without its page, says why once, and stops on SIGTERM', { timeout: 60_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const fifo = join(ws.dir, 'web.pass');
  execFileSync('mkfifo', [fifo]);
  const port = await freePort();
  const file = await ws.writeConfig(`
broker: { port: ${port} }
mqtt: { client_id: w1mqtt-fifo }
web: { port: 0, password_file: ${fifo} }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
sensors:
  28-0316a2792dff: ${KITCHEN}
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  const refused = await agent.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('web page not available'), 15_000);
  assert.match(String(refused['err']), /not a regular file \(a FIFO\)/);
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: [KITCHEN] });
  t.after(() => sub.stop());
  await freshReading(sub, KITCHEN, 15_000);
  assert.equal(agent.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('web page not available')).length, 1);
  assert.equal(await agent.stop(), 0);
});

test('an owserver listing 5 843 devices: warned about once, memory bounded, the first cycle published', { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const COUNT = 5843;
  const names = Array.from({ length: COUNT }, (_, i) => `/28.${(0x100000 + i).toString(16).toUpperCase().padStart(12, '0')}`);
  const owserver = await startFakeOwserver((request, socket) => {
    if (request.type === 7) socket.write(answer({ ret: 0, body: `${names.join(',')}\0` }));
    else if (request.type === 2) socket.write(answer({ ret: 12, body: '     21.5000' }));
    else socket.write(answer({ ret: 0 }));
  });
  t.after(() => owserver.close());
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  // Quoted in sensors.yaml: 28.000000100000 unquoted is a YAML float.
  const first = names[0]?.slice(1) ?? '';
  const file = await ws.writeConfig(`
broker: { port: ${port} }
mqtt: { client_id: w1mqtt-many }
web: { port: 0 }
sources: [{ type: owserver, host: 127.0.0.1, port: ${owserver.port} }]
interval: 5s
sensors:
  '${first}': ${KITCHEN}
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json', LOG_LEVEL: 'info' } });
  t.after(() => agent.stop());
  const used = watchUsage(agent.pid);
  const warned = await agent.waitForLog((l) => l['devices'] === COUNT && l['level'] === 40, 30_000);
  assert.match(String(warned['msg']), /more than 500/);
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: [KITCHEN, 'home/1wire/#'] });
  t.after(() => sub.stop());
  await freshReading(sub, KITCHEN, 30_000);
  // A whole cycle: every device read once and published.
  const published = (): number => new Set(sub.retainedLines.filter((m) => !m.retained && m.topic.endsWith('/temperature')).map((m) => m.topic)).size;
  await until(() => `every device published (${published()} of ${COUNT})`, () => published() >= COUNT, 30_000, 200);
  const { peakRssMb, cpuS } = used.stop();
  const topics = published();
  t.diagnostic(`${COUNT} devices: ${topics} topics published, agent peak RSS ${peakRssMb.toFixed(0)} MB, ${cpuS.toFixed(1)} CPU s (before: 1.68 GB in 12 s)`);
  assert.equal(topics, COUNT);
  assert.ok(peakRssMb < 400, `${peakRssMb} MB`);
  assert.equal(agent.logs.filter((l) => l['devices'] === COUNT && l['level'] === 40).length, 1, 'warned once');
  assert.equal(await agent.stop(), 0);
});
