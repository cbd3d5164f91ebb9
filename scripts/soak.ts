/**
 * Soak run: the real agent (a child process) on a simulated bus, publishing JSON readings
 * every second to a real mosquitto that is stopped and started again at random moments,
 * with a persistent QoS 1 subscriber counting what arrives. Bounded: it stops itself.
 * Prints readings produced / delivered / missing / dropped / duplicated, ordering, the
 * outages, and the agent's RSS over time.
 *
 *   npm run soak -- --minutes 10 [--seed 42]
 *
 * Not part of the test suite: it takes minutes and measures. It exits 1 if a reading produced
 * while it ran went missing or arrived out of order.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SimulatedBus } from '../src/demo/simulated-bus.js';
import { ROOT, startCli, type AgentProcess } from '../test/helpers/agent-process.js';
import { startMosquitto, type Mosquitto } from '../test/helpers/mosquitto.js';
import { subscribe } from '../test/helpers/mqtt-sub.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0 && minutes <= 24 * 60)) throw new Error(`--minutes must be a number of minutes, not ${values.minutes}`);
const seed = Number(values.seed ?? Date.now() % 100_000);
const random = mulberry32(seed);
const between = (lo: number, hi: number): number => lo + random() * (hi - lo);

const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-soak-'));
const dataDir = join(dir, 'mosquitto');
await mkdir(dataDir);
const bus = new SimulatedBus(join(dir, 'bus'));
await bus.create();
bus.start(1000);
let mosquitto: Mosquitto = await startMosquitto({ dataDir });
const port = mosquitto.port;
const sub = await subscribe({ port, topics: ['home/#'], clientId: 'w1mqtt-soak-sub' });
const file = join(dir, 'sensors.yaml');
await writeFile(
  file,
  `mqtt:\n  url: ${mosquitto.url}\n  client_id: w1mqtt-soak\n  payload: json\nsources:\n  - type: w1\n    path: ${bus.w1Path}\ninterval: 1s\nstate_dir: ${join(dir, 'state')}\nweb:\n  enabled: false\n`,
);
// The agent as installed: the bundle, with bin/w1mqtt.cjs's node flags (its RSS is the one that matters).
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
const agent: AgentProcess = startCli(['run', '--config', file], { built: true });
const hardStop = setTimeout(() => void finish('hard deadline reached').then(() => process.exit(2)), (minutes + 3) * 60_000);
hardStop.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void finish(signal).then(() => process.exit(130)));
// The agent must live to the end: if it exits early, say how and stop (nothing after that would mean anything).
let stopping = false;
void agent.exited.then((how) => {
  if (stopping) return;
  const last = agent.logs.slice(-5).map((l) => JSON.stringify(l).slice(0, 300));
  process.stdout.write(`soak: the agent exited early (${String(how)}); its last log lines:\n${last.join('\n')}\n${agent.stderr().slice(-2000)}\n`);
  void finish('agent exited').then(() => process.exit(1));
});

let finished = false;
async function finish(why: string): Promise<void> {
  if (finished) return;
  finished = true;
  stopping = true;
  process.stdout.write(`soak: stopping (${why})\n`);
  await agent.stop();
  await sub.stop();
  await mosquitto.stop();
  await bus.stop();
  await rm(dir, { recursive: true, force: true });
}

try {
  await agent.waitForLog((l) => l['msg'] === 'running', 30_000);
  const started = Date.now();
  const end = started + minutes * 60_000;
  const rss: { atS: number; kb: number }[] = [];
  const sampler = setInterval(() => void rssKb(agent.pid).then((kb) => kb && rss.push({ atS: Math.round((Date.now() - started) / 1000), kb })), 10_000);
  const outages: number[] = [];
  process.stdout.write(`soak: ${minutes} min, seed ${seed}, agent pid ${agent.pid}, mosquitto on ${port}\n`);
  while (Date.now() < end - 25_000) {
    await sleep(Math.min(between(15_000, 60_000), end - Date.now() - 20_000));
    const down = between(2_000, 20_000);
    await mosquitto.stop();
    await sleep(down);
    mosquitto = await startMosquitto({ port, dataDir });
    outages.push(down);
    process.stdout.write(`soak: broker restart ${outages.length} at ${Math.round((Date.now() - started) / 1000)} s, down ${(down / 1000).toFixed(1)} s\n`);
  }
  await sleep(Math.max(0, end - Date.now()));
  clearInterval(sampler);

  // Let the queue drain, then count.
  const produced = (): { topic: string; payload: string }[] =>
    agent.logs.filter((l) => l['msg'] === 'reading').map((l) => ({ topic: String(l['topic']), payload: String(l['payload']) }));
  const key = (r: { topic: string; payload: string }): string => `${r.topic} ${r.payload}`;
  const upTo = produced().length;
  const drainDeadline = Date.now() + 90_000;
  while (Date.now() < drainDeadline) {
    const got = new Set(sub.retainedLines.map(key));
    if (produced().slice(0, upTo).every((r) => got.has(key(r)))) break;
    await sleep(500);
  }
  const cpu = await cpuSeconds(agent.pid);
  stopping = true;
  await agent.stop();
  const made = produced();
  const readings = sub.retainedLines.filter((m) => !m.topic.endsWith('/availability') && !m.topic.includes('/w1mqtt/'));
  // A retained message is sent again at every (re)subscribe, by design: not a duplicate delivery.
  const received = readings.filter((m) => !m.retained);
  const unique = new Set(readings.map(key));
  const live = new Set(received.map(key));
  const missing = made.filter((r) => !unique.has(key(r)));
  const closed = agent.logs.find((l) => l['msg'] === 'outbox closed') ?? {};
  const inversions = countInversions(made, readings, key);
  const report = {
    minutes,
    seed,
    brokerRestarts: outages.length,
    brokerDownSeconds: +(outages.reduce((a, b) => a + b, 0) / 1000).toFixed(1),
    produced: made.length,
    delivered: made.length - missing.length,
    missing: missing.length,
    missingWhileRunning: missing.filter((r) => made.indexOf(r) < upTo).length,
    droppedByLimit: closed['dropped'],
    supersededLatest: closed['superseded'],
    duplicatesAtSubscriber: received.length - live.size,
    retainedReplaysOnResubscribe: readings.length - received.length,
    // DUP=1 from the broker: its own resends of what the subscriber had not acknowledged when the broker stopped.
    redeliveredByBroker: sub.redelivered(),
    outOfOrder: inversions,
    writtenToDisk: closed['written'],
    agentCpuSeconds: cpu,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  // It measures rather than judges, but a lost or reordered reading is a failure whatever the figures.
  if (report.missingWhileRunning > 0 || report.outOfOrder > 0) {
    process.stdout.write(`soak: FAILED: ${report.missingWhileRunning} readings missing, ${report.outOfOrder} out of order\n`);
    process.exitCode = 1;
  }
  process.stdout.write('rss (kB) every minute: ' + rss.filter((_, i) => i % 6 === 0).map((r) => `${r.atS}s=${r.kb}`).join(' ') + '\n');
  if (rss.length >= 4) {
    const half = rss.slice(Math.floor(rss.length / 2));
    process.stdout.write(
      `rss: first ${rss[0]?.kb} kB, max ${Math.max(...rss.map((r) => r.kb))} kB, last ${rss.at(-1)?.kb} kB, ` +
        `trend ${slope(rss.slice(1)).toFixed(1)} kB/min after the first minute, ${slope(half).toFixed(1)} kB/min over the second half\n`,
    );
  }
} finally {
  await finish('done');
}

/** Readings of one topic that arrived (first time) before an earlier-produced one of that topic. */
function countInversions(made: { topic: string; payload: string }[], received: { topic: string; payload: string }[], key: (r: { topic: string; payload: string }) => string): number {
  const order = new Map(made.map((r, i) => [key(r), i]));
  const last = new Map<string, number>();
  const seen = new Set<string>();
  let inversions = 0;
  for (const r of received) {
    const k = key(r);
    if (seen.has(k)) continue;
    seen.add(k);
    const i = order.get(k);
    if (i === undefined) continue;
    if (i < (last.get(r.topic) ?? -1)) inversions++;
    last.set(r.topic, Math.max(i, last.get(r.topic) ?? -1));
  }
  return inversions;
}

/** Least-squares slope of RSS against time, in kB per minute. */
function slope(points: { atS: number; kb: number }[]): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.atS, 0) / n;
  const my = points.reduce((a, p) => a + p.kb, 0) / n;
  const num = points.reduce((a, p) => a + (p.atS - mx) * (p.kb - my), 0);
  const den = points.reduce((a, p) => a + (p.atS - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

async function rssKb(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : undefined;
}

async function cpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of proc(5), in clock ticks (100 per second on Linux).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / 100 : undefined;
}

/** A small seeded PRNG, so a run's broker restarts can be repeated with --seed. */
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
