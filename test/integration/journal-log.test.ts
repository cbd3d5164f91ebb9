import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/until.js';

/**
 * The log under systemd: the real CLI with stdout and stderr on one stream whose device:inode is
 * in JOURNAL_STREAM, as systemd connects a unit to journald (systemd.exec(5)). Each line must
 * carry its sd-daemon priority, so journald files it at that priority and `journalctl -p`
 * filters; this checks what journald would do by parsing the prefixes the same way.
 */

/** Run through sh: stderr joins stdout, and JOURNAL_STREAM names that stream (or `stream`). */
const asService = (stream?: string): string[] => ['/bin/sh', '-c', `exec 2>&1; JOURNAL_STREAM=${stream ?? '$(stat -L -c %d:%i /proc/$$/fd/1)'} exec "$@"`, 'sh'];

/** journald's reading of a line: a leading `<N>` is its priority (the unit's default, info, without one). */
function priorityOf(line: string): { priority: number; text: string; prefixed: boolean } {
  const m = /^<([0-7])>(.*)$/.exec(line);
  return m ? { priority: Number(m[1]), text: m[2] ?? '', prefixed: true } : { priority: 6, text: line, prefixed: false };
}

const lines = (agent: AgentProcess) => agent.stdout().split('\n').filter((l) => l !== '');

test('under systemd: readable lines with priorities; `-p warning` keeps the sensor faults and drops the info', { timeout: 60_000, skip: !haveMosquitto() && 'mosquitto not installed' }, async (t) => {
  const agent = startCli(['demo', '--port', String(await freePort()), '--web-port', String(await freePort()), '--interval', '1s'], { wrap: asService() });
  t.after(() => agent.stop());
  // The demo's fixture bus has faulty sensors: warnings within the first poll.
  await until(() => `a sensor fault warning in:\n${agent.stdout()}`, () => lines(agent).some((l) => l.startsWith('<4>sensors: sensor fault:')), 30_000);
  await until('a reading at debug', () => lines(agent).some((l) => l.startsWith('<7>reading ')), 30_000);
  const all = lines(agent).map(priorityOf);
  assert.ok(all.every((l) => l.prefixed), `every line has its priority:\n${all.filter((l) => !l.prefixed).map((l) => l.text).join('\n')}`);
  assert.ok(all.every((l) => !l.text.startsWith('{')), 'no JSON lines');
  assert.deepEqual([...new Set(all.map((l) => l.priority))].sort(), [4, 6, 7]);
  assert.ok(all.some((l) => l.priority === 6 && /^mqtt: connected url=mqtt\+unix:\/\//.test(l.text)), 'module, message and fields on one line');

  // journalctl -p warning: priorities 0..4 only.
  const warnings = all.filter((l) => l.priority <= 4).map((l) => l.text);
  assert.ok(warnings.some((w) => /^sensors: sensor fault: CRC mismatch .*sensor=28-/.test(w)), warnings.join('\n'));
  assert.ok(warnings.every((w) => !/^(running|sensor found|mqtt: connected)/.test(w)), warnings.join('\n'));
});

test('under systemd: JSON one setting away (W1MQTT_LOG_FORMAT=json), and JSON for a child that inherited JOURNAL_STREAM but writes elsewhere', { timeout: 60_000, skip: !haveMosquitto() && 'mosquitto not installed' }, async (t) => {
  for (const [env, wrap] of [[{ W1MQTT_LOG_FORMAT: 'json' }, asService()], [{}, asService('1:1')]] as const) {
    const agent = startCli(['demo', '--port', String(await freePort()), '--web-port', String(await freePort()), '--interval', '1s'], { env, wrap });
    t.after(() => agent.stop());
    const line = await agent.waitForLog((l) => l['msg'] === 'running', 30_000);
    assert.equal(line['level'], 30);
    assert.ok(lines(agent).every((l) => !/^<\d>/.test(l)), agent.stdout());
    await agent.stop();
  }
});

test('under systemd: an invalid sensors.yaml is refused with each problem at error priority', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'sensors.yaml');
  await writeFile(file, 'mqtt:\n  retain: "yes please"\n');
  const agent = startCli(['run', '--config', file], { wrap: asService() });
  t.after(() => agent.stop());
  assert.equal(await agent.exited, 1);
  const all = lines(agent).map(priorityOf);
  assert.deepEqual(all.map((l) => l.priority), [3, 3], agent.stdout());
  assert.match(all[0]?.text ?? '', /sensors\.yaml:2:11 mqtt\.retain: expected boolean, got string$/);
  assert.match(all[1]?.text ?? '', /^w1mqtt: refusing to start with an invalid config/);
});

test('w1mqtt --help names the service and how to follow its log', { timeout: 30_000 }, async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /w1mqtt\.service/);
  assert.match(r.stdout, /journalctl -u w1mqtt -f/);
});
