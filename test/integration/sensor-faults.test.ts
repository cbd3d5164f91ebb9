import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, open, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixtureWorkspace, FIXTURES, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { findBinary, haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { subscribe, type Subscriber } from '../helpers/mqtt-sub.js';
import { mountStaleFuse, staleFuseUnavailable } from '../helpers/stale-fuse.js';

/**
 * Each fault injected into a running agent on a fixture tree, with a real mosquitto:
 * the faulty sensor goes `offline` on `<topic>/availability` (after unavailable_after: 2
 * failed reads), the others keep publishing, the fault is logged once when it starts
 * and once when it ends, and the sensor comes back `online` when the fault is gone.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 120_000, skip: noMosquitto };
const BUS1 = '28-0316a2792dff';
const BUS2 = ['22-00000053e8a1', '3b-0000001852ad'] as const;

interface Run {
  readonly w1: string;
  readonly owfs: string;
  readonly agent: AgentProcess;
  readonly sub: Subscriber;
  /** Readings received on `topic` so far. */
  count(topic: string): number;
  /** Waits for `n` more readings on `topic`. */
  more(topic: string, n: number): Promise<void>;
  availability(topic: string, state: 'online' | 'offline', after?: number): Promise<void>;
  /** Log lines about `sensor` with this message (prefix). */
  logs(sensor: string, msg: string): Record<string, unknown>[];
}

async function run(t: TestContext, opts: { sensors: Record<string, string>; sources?: (w1: string, owfs: string) => string; wrap?: string[]; prepare?: (w1: string) => Promise<void> }): Promise<Run> {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  await opts.prepare?.(ws.w1);
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.stop());
  const sources = opts.sources?.(ws.w1, ws.owfs) ?? `  - type: w1\n    path: ${ws.w1}\n`;
  const sensors = Object.entries(opts.sensors).map(([id, topic]) => `  ${id}: ${topic}`).join('\n');
  const file = await ws.writeConfig(
    `mqtt:\n  url: ${mosquitto.url}\n  client_id: w1mqtt-faults\nsources:\n${sources}interval: 1s\nunmapped: ignore\nunavailable_after: 2\n` +
      `state_dir: ${join(ws.dir, 'state')}\nsensors:\n${sensors}\n`,
  );
  const sub = await subscribe({ port: mosquitto.port, topics: ['test/#'] });
  t.after(() => sub.stop());
  const agent = startCli(['run', '--config', file], opts.wrap ? { wrap: opts.wrap } : {});
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'running', 20_000);
  const count = (topic: string): number => sub.retainedLines.filter((m) => m.topic === topic).length;
  const r: Run = {
    w1: ws.w1,
    owfs: ws.owfs,
    agent,
    sub,
    count,
    async more(topic, n) {
      const target = count(topic) + n;
      await sub.waitFor(() => count(topic) >= target, 20_000);
    },
    async availability(topic, state, after = 0) {
      await sub.waitFor((m) => m.topic === `${topic}/availability` && m.payload === state && sub.retainedLines.indexOf(m) >= after, 45_000);
    },
    logs: (sensor, msg) => agent.logs.filter((l) => l['sensor'] === sensor && String(l['msg']).startsWith(msg)),
  };
  for (const topic of Object.values(opts.sensors)) await r.availability(topic, 'online');
  return r;
}

test('a vanished bus master: its sensors go offline, the other bus goes on, all come back', T, async (t) => {
  const topics = { [BUS1]: 'test/a/temperature', [BUS2[0]]: 'test/b/temperature', [BUS2[1]]: 'test/c/temperature' };
  const r = await run(t, { sensors: topics });
  const master2 = join(r.w1, 'w1_bus_master2');
  const slaves = (await readdir(master2)).filter((n) => /^[0-9a-f]{2}-/.test(n));
  // What the kernel does when a master goes (module unloaded, adapter unplugged): its directory and its slaves' links vanish.
  await rm(master2, { recursive: true });
  for (const s of slaves) await unlink(join(r.w1, s));
  const mark = r.sub.retainedLines.length;
  await r.availability('test/b/temperature', 'offline', mark);
  await r.availability('test/c/temperature', 'offline', mark);
  await r.more('test/a/temperature', 3);
  // Said once: as a read fault, or (when the agent looked at the bus first) as a vanished sensor.
  const said = (): number => r.logs(BUS2[0], 'sensor fault').length + r.logs(BUS2[0], 'sensor vanished').length;
  assert.ok(said() >= 1 && r.logs(BUS2[0], 'sensor fault').length <= 1 && r.logs(BUS2[0], 'sensor vanished').length <= 1);
  const saidBefore = said();

  await cp(join(FIXTURES, 'w1', 'devices', 'w1_bus_master2'), master2, { recursive: true, verbatimSymlinks: true });
  for (const s of slaves) await symlink(`w1_bus_master2/${s}`, join(r.w1, s));
  const back = r.sub.retainedLines.length;
  await r.availability('test/b/temperature', 'online', back);
  await r.availability('test/c/temperature', 'online', back);
  await r.more('test/b/temperature', 2);
  assert.equal(said(), saidBefore, 'and not again while it lasted');
});

// In CI the check runs inside the test (where it throws): a missing capability fails this test only.
const noFuse = process.env['CI'] ? undefined : staleFuseUnavailable();
test('a stale OWFS mount (ENOTCONN): its sensor goes offline with a hint, w1 sensors go on', { ...T, skip: noMosquitto || noFuse || false }, async (t) => {
  staleFuseUnavailable();
  const owfsId = '28.FF2D79A21603';
  const r = await run(t, {
    // 3b-…: on the w1 tree only (the OWFS fixture has the 22- chip too, which it would read first).
    sensors: { [owfsId]: 'test/o/temperature', [BUS2[1]]: 'test/w/temperature' },
    sources: (w1, owfs) => `  - type: owfs\n    path: ${owfs}\n  - type: w1\n    path: ${w1}\n`,
    // The same chip is also on the w1 tree: remove it there so it is read through OWFS only.
    prepare: async (w1) => {
      await unlink(join(w1, BUS1));
      await rm(join(w1, 'w1_bus_master1', BUS1), { recursive: true });
    },
  });
  const unmount = mountStaleFuse(r.owfs);
  const mark = r.sub.retainedLines.length;
  const sourceDown = (): Record<string, unknown>[] => r.agent.logs.filter((l) => String(l['msg']).startsWith('cannot list devices of source') && String(l['source']).startsWith('owfs:'));
  try {
    await r.availability('test/o/temperature', 'offline', mark);
    await r.more('test/w/temperature', 3);
    // Said once, with what to do: by the read that failed, or by the listing of the mount if the agent looked there first.
    const said = [...r.logs(owfsId, 'sensor fault').map((l) => String(l['msg'])), ...sourceDown().map((l) => `${String(l['err'])} (${String(l['hint'])})`)];
    assert.ok(said.length >= 1 && said.length <= 2, said.join('\n'));
    assert.ok(r.logs(owfsId, 'sensor fault').length <= 1 && sourceDown().length <= 1);
    for (const line of said) assert.match(line, /ENOTCONN.*OWFS mount is stale/);
  } finally {
    // Before the workspace is removed, whatever happened.
    unmount();
  }
  await r.availability('test/o/temperature', 'online', mark);
  await r.more('test/o/temperature', 2);
  // And once when it ends, with counts.
  if (r.logs(owfsId, 'sensor fault').length === 1) {
    const recovered = await r.agent.waitForLog((l) => l['sensor'] === owfsId && l['msg'] === 'sensor recovered', 10_000);
    assert.ok(Number(recovered['failures']) >= 2);
  }
  if (sourceDown().length === 1) {
    const back = await r.agent.waitForLog((l) => l['msg'] === 'source is back' && String(l['source']).startsWith('owfs:'), 20_000);
    assert.ok(Number(back['failures']) >= 1);
  }
  const back = r.sub.retainedLines.slice(mark).filter((m) => m.topic === 'test/o/temperature/availability').map((m) => m.payload);
  assert.deepEqual(back, ['offline', 'online'], 'offline once, online once');
});

test('permission denied (EACCES): that sensor goes offline, the rest go on', T, async (t) => {
  // Root reads any file: drop the capabilities that let it, as an unprivileged service user would be.
  const asRoot = process.getuid?.() === 0;
  const setpriv = findBinary('setpriv');
  if (asRoot && setpriv === undefined) throw new Error('setpriv (util-linux) is needed to test permission errors as root');
  const wrap = asRoot && setpriv ? [setpriv, '--bounding-set=-dac_override,-dac_read_search', '--'] : undefined;
  const r = await run(t, { sensors: { [BUS1]: 'test/a/temperature', [BUS2[0]]: 'test/b/temperature' }, ...(wrap ? { wrap } : {}) });
  const file = join(r.w1, BUS1, 'w1_slave');
  await chmod(file, 0o000);
  const mark = r.sub.retainedLines.length;
  await r.availability('test/a/temperature', 'offline', mark);
  await r.more('test/b/temperature', 3);
  const fault = r.logs(BUS1, 'sensor fault');
  assert.equal(fault.length, 1);
  assert.match(String(fault[0]?.['msg']), /EACCES.*permission denied/);
  await chmod(file, 0o644);
  await r.availability('test/a/temperature', 'online', mark);
  // The log comes through another pipe than the MQTT message: wait for it.
  const recovered = await r.agent.waitForLog((l) => l['sensor'] === BUS1 && l['msg'] === 'sensor recovered', 10_000);
  assert.ok(Number(recovered['failures']) >= 2);
  assert.equal(r.logs(BUS1, 'sensor recovered').length, 1);
});

test('a read that never returns: no second read is piled on its bus, the other bus goes on, all recover', T, async (t) => {
  const topics = { [BUS1]: 'test/a/temperature', [BUS2[0]]: 'test/b/temperature', [BUS2[1]]: 'test/c/temperature' };
  const r = await run(t, { sensors: topics });
  const slave = join(r.w1, BUS2[0], 'w1_slave');
  const good = await readFile(slave);
  // A FIFO with no writer: open(2) blocks in the kernel, like a w1_slave read that never completes.
  await unlink(slave);
  const made = spawnSync(findBinary('mkfifo') ?? 'mkfifo', [slave]);
  assert.equal(made.status, 0, 'mkfifo');
  const stuck = await r.agent.waitForLog((l) => l['msg'] === 'a read did not return: no more reads on this bus until it does', 30_000);
  assert.equal(stuck['sensor'], BUS2[0]);
  const mark = r.sub.retainedLines.length;
  await r.availability('test/c/temperature', 'offline');
  await r.availability('test/b/temperature', 'offline');
  await r.more('test/a/temperature', 3);
  assert.match(String(r.logs(BUS2[1], 'sensor fault')[0]?.['msg']), /not read: an earlier read on this bus/);
  const blocked = await threadsIn(r.agent.pid, 'wait_for_partner');
  if (blocked !== undefined) assert.equal(blocked, 1, 'exactly one thread blocked on the FIFO: nothing piled on it');

  // The kernel gives the read back: a writer opens the FIFO, the file becomes a regular one again.
  const fd = await open(slave, 'w');
  await writeFile(`${slave}.tmp`, good);
  await rename(`${slave}.tmp`, slave);
  await fd.write(good);
  await fd.close();
  const returned = await r.agent.waitForLog((l) => l['msg'] === 'the stuck read returned: reading this bus again', 20_000);
  assert.ok(Number(returned['skippedReads']) >= 2);
  await r.availability('test/b/temperature', 'online', mark);
  await r.availability('test/c/temperature', 'online', mark);
  assert.equal(r.agent.logs.filter((l) => l['msg'] === 'a read did not return: no more reads on this bus until it does').length, 1, 'logged once');
});

/** How many threads of `pid` sleep in kernel function `wchan` (Linux /proc); undefined where /proc cannot tell. */
async function threadsIn(pid: number, wchan: string): Promise<number | undefined> {
  try {
    const tasks = await readdir(`/proc/${pid}/task`);
    const chans = await Promise.all(tasks.map((task) => readFile(`/proc/${pid}/task/${task}/wchan`, 'utf8').catch(() => '')));
    return chans.some((c) => c !== '' && c !== '0') ? chans.filter((c) => c === wchan).length : undefined;
  } catch {
    return undefined;
  }
}
