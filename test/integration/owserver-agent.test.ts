import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../helpers/agent-process.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { haveOwserver, startOwserver } from '../helpers/owserver.js';

/**
 * The real CLI against a real owserver: `w1mqtt scan` lists its devices, and
 * `w1mqtt run` publishes them to a real mosquitto and rides out an owserver crash.
 */

const noOwserver = !haveOwserver() && 'owserver / ow-shell not installed';
const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';

async function configFile(t: { after(fn: () => Promise<void>): void }, yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-owserver-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'sensors.yaml');
  await writeFile(file, yaml);
  return file;
}

test('w1mqtt scan shows owserver devices in both notations with a reading', { timeout: 60_000, skip: noOwserver }, async (t) => {
  const server = await startOwserver({ tester: ['28', '10'] });
  t.after(() => server.stop());
  const file = await configFile(t, `sources:\n  - type: owserver\n    port: ${server.port}\nsensors:\n  28-0000d7280000: home/garage/temperature\n`);
  const { code, stdout, stderr } = await runCli(['scan', '--config', file]);
  assert.equal(code, 0, stderr);
  const row = (owfs: string) => stdout.split('\n').find((l) => l.includes(owfs))?.split(/\s{2,}/);
  assert.deepEqual(row('28.000028D70000'), ['28-0000d7280000', '28.000028D70000', 'DS18B20', `owserver:127.0.0.1:${server.port}`, 'yes', '4.000 °C']);
  assert.deepEqual(row('10.000010EF0100'), ['10-0001ef100000', '10.000010EF0100', 'DS18S20', `owserver:127.0.0.1:${server.port}`, 'no', '1.700 °C']);
  assert.match(stdout, /2 thermometers/);
});

test(
  'w1mqtt run: owserver killed and restarted on the same port, publishing resumes; one log line down, one back',
  { timeout: 180_000, skip: noOwserver || noMosquitto },
  async (t) => {
    let owserver = await startOwserver({ tester: ['28'] });
    const owPort = owserver.port;
    t.after(() => owserver.stop());
    const broker = await startMosquitto();
    t.after(() => broker.stop());
    const topic = 'home/owserver/garage/temperature';
    const file = await configFile(
      t,
      [
        'mqtt:',
        `  url: mqtt://127.0.0.1:${broker.port}`,
        '  client_id: w1mqtt-owserver-test',
        'sources:',
        '  - type: owserver',
        `    port: ${owPort}`,
        '    timeout: 2s',
        'interval: 1s',
        'unmapped: ignore',
        'sensors:',
        `  28.000028D70000: ${topic}`,
        '',
      ].join('\n'),
    );
    const agent = startCli(['run', '--config', file]);
    t.after(async () => void (await agent.stop()));
    await agent.waitForLog((l) => l['msg'] === 'running', 30_000);
    // Subscribed once the retained status exists: mosquitto_sub block-buffers its
    // stdout into a pipe and only flushes when a message arrives.
    const sub = await subscribe({ port: broker.port, topics: ['home/owserver/#', 'home/w1mqtt/#'] });
    t.after(() => sub.stop());

    await sub.waitFor((m) => m.topic === topic && m.payload === '4.00', 30_000);
    const source = `owserver:127.0.0.1:${owPort}`;
    const isFault = (l: Record<string, unknown>) => l['sensor'] === '28.000028D70000' && String(l['msg']).startsWith('sensor fault');
    const isDown = (l: Record<string, unknown>) => l['source'] === source && l['msg'] === 'cannot list devices of source (bus master gone?)';
    const isBack = (l: Record<string, unknown>) => l['source'] === source && l['msg'] === 'source is back';
    const isRecovered = (l: Record<string, unknown>) => l['sensor'] === '28.000028D70000' && l['msg'] === 'sensor recovered';

    await owserver.kill();
    const fault = await agent.waitForLog(isFault, 20_000);
    assert.equal(fault['code'], 'io_error');
    assert.match(String(fault['msg']), /ECONNREFUSED: nothing listens on 127\.0\.0\.1:\d+: is owserver running/);
    // Discovery runs every 30 s: by the time it fails too, the sensor has been polled
    // (and failed) many times at 1 s, which must not have added log lines.
    const down = await agent.waitForLog(isDown, 45_000);
    assert.match(String(down['err']), /nothing listens on/);
    assert.equal(agent.logs.filter(isFault).length, 1, 'one fault line for the whole outage');

    const before = sub.lines.length;
    owserver = await startOwserver({ tester: ['28'], port: owPort });
    await agent.waitForLog(isRecovered, 30_000);
    await sub.waitFor((m) => m.topic === topic && m.payload === '4.00' && sub.retainedLines.indexOf(m) >= before, 30_000);
    await agent.waitForLog(isBack, 45_000);

    assert.equal(agent.logs.filter(isFault).length, 1);
    assert.equal(agent.logs.filter(isRecovered).length, 1);
    assert.equal(agent.logs.filter(isDown).length, 1);
    assert.equal(agent.logs.filter(isBack).length, 1);
    assert.equal(agent.logs.filter((l) => l['msg'] === 'sensor vanished from its bus').length, 0, 'an unreachable server is not a vanished sensor');
    assert.equal(await agent.stop(), 0);
  },
);
