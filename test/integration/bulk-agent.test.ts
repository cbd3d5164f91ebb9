import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { BusSimulator, type BusStats, type SimBusSpec } from '../../src/sim/bus-simulator.js';
import { startCli, type AgentProcess } from '../helpers/agent-process.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/until.js';

/**
 * The real agent (a child process) on the kernel-faithful bus simulator: due sensors of a
 * bus share one conversion, and a refused trigger falls back to one-by-one reads, logged
 * once. What the bus did is read from the simulator's counters, never from a clock.
 */

const BUS1 = ['28-000000010001', '28-000000010002', '28-000000010003'];
const SEQ = '42-000000010004';
const BUS2 = ['28-000000020001', '28-000000020002'];
const BUSES: SimBusSpec[] = [
  { sensors: [...BUS1.map((name, i) => ({ name, milli: 20_000 + i * 1000 })), { name: SEQ, milli: 18_062 }] },
  { sensors: BUS2.map((name) => ({ name, milli: 5_500, resolution: 9 as const })) },
];
const ALL = [...BUS1, SEQ, ...BUS2];

async function runOnSimulator(t: TestContext, refuseTrigger: boolean): Promise<{ sim: BusSimulator; agent: AgentProcess }> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-bulk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sim = new BusSimulator({ dir: join(dir, 'sim'), buses: BUSES, refuseTrigger });
  t.after(() => sim.stop());
  await sim.start();
  const config = join(dir, 'sensors.yaml');
  await writeFile(config, `sources:\n  - type: w1\n    path: ${sim.w1Path}\ninterval: 5s\nbroker:\n  port: ${await freePort()}\n`);
  // Refused: the service runs unprivileged, and as root 0444 would not refuse anything, so run
  // as nobody. Otherwise the agent may write therm_bulk_read (root, or the udev rule's group).
  const asNobody = refuseTrigger && process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (asNobody.uid !== undefined) await chmod(dir, 0o755);
  const agent = startCli(['run', '--config', config], asNobody);
  t.after(() => agent.stop());
  return { sim, agent };
}

function readingsOf(agent: AgentProcess, sensor: string): number {
  return agent.logs.filter((l) => l['msg'] === 'reading' && l['sensor'] === sensor).length;
}

/** `probe`'s value once `ok` holds for it; a timeout tells the last value and the agent's output. */
function untilAgent<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, agent: AgentProcess): Promise<T> {
  let last: T | undefined;
  const check = async (): Promise<T | undefined> => {
    last = await probe();
    return ok(last) ? last : undefined;
  };
  return waitFor(() => `${what}; last: ${JSON.stringify(last)}\n${agent.stdout().slice(-3000)}\n${agent.stderr().slice(-2000)}`, check, 90_000, 50);
}

test('due sensors of a bus share one conversion; the DS28EA00 converts alone', { timeout: 150_000 }, async (t) => {
  const { sim, agent } = await runOnSimulator(t, false);
  await untilAgent(async () => ALL.map((s) => readingsOf(agent, s)), (n) => n.every((c) => c >= 2), 'two readings of every sensor', agent);
  // Every cycle so far: one trigger per bus, a fast read of each bulk-capable sensor, a full one of the DS28EA00.
  const shared = (b: BusStats, bulkSensors: number, alone: number) =>
    b.bulkConversions >= 2 && b.fastReads === bulkSensors * b.bulkConversions && b.singleConversions === alone && b.rejectedTriggers === 0;
  const stats = await untilAgent(
    () => sim.stats(),
    (s) => {
      const [b1, b2] = s.buses;
      return b1 !== undefined && b2 !== undefined && shared(b1, 3, b1.reads[SEQ] ?? -1) && shared(b2, 2, 0);
    },
    'every bus cycle to be one shared conversion',
    agent,
  );
  assert.equal(stats.buses[0]?.maxQueued, 1, 'never two reads waiting on one bus');
  assert.ok(!agent.logs.some((l) => String(l['msg']).startsWith('bulk conversion')), 'no fallback');
});

test('a refused trigger (EACCES) falls back to one-by-one reads, logged once per bus', { timeout: 150_000 }, async (t) => {
  const { sim, agent } = await runOnSimulator(t, true);
  await untilAgent(async () => ALL.map((s) => readingsOf(agent, s)), (n) => n.every((c) => c >= 2), 'two readings of every sensor', agent);
  const refused = agent.logs.filter((l) => String(l['msg']).startsWith('bulk conversion refused'));
  assert.equal(refused.length, 2, JSON.stringify(refused));
  assert.deepEqual(refused.map((l) => (l['error'] as { errno?: string }).errno), ['EACCES', 'EACCES']);
  const stats = await sim.stats();
  for (const b of stats.buses) {
    assert.equal(b.bulkConversions, 0);
    assert.equal(b.fastReads, 0);
    assert.ok(b.singleConversions >= 2 * Object.keys(b.reads).length);
  }
});
