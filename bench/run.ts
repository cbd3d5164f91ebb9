import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { measureCost, DEBIAN_PYTHON, DEFAULT_LABEL, FLOOR_LABEL, type CostResult } from './cost.js';
import { measureBundled, type BundledResult } from './bundled.js';
import { measureCycles, type CycleResult } from './cycle.js';
import { measureLatency, type LatencyResult } from './latency.js';
import { measureHistory, type HistoryResult } from './history.js';
import { measureLoads, measureMemory, measureStartup, type LoadResult, type LoadWindow, type MemoryResult, type StartupResult } from './loads.js';
import { fmt, table } from './lib.js';
import { measureStarvation, type StarveResult } from './starve.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';

/**
 * `npm run bench`: bus speed against the physical floor, thread-pool starvation, agent cost
 * against a Python baseline, broker latency. Every comparison is measured in this run, side
 * by side. Prints tables, writes bench/result.json, ends with one line per target.
 * `--quick` runs small sizes only (a smoke test of the bench itself); part names as arguments
 * (`node --import tsx bench/run.ts loads startup`) or `BENCH_ONLY=cycle,two` run only those
 * parts: cycle, two, starve, cost, latency, bundled, history, loads, startup, memory.
 */
const PARTS = ['cycle', 'two', 'starve', 'cost', 'latency', 'bundled', 'history', 'loads', 'startup', 'memory'];
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const named = args.filter((a) => !a.startsWith('-'));
const only = named.length > 0 ? named : process.env['BENCH_ONLY']?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((p) => !PARTS.includes(p)) ?? [];
if (unknown.length > 0) throw new Error(`bench: no part ${unknown.join(', ')} (parts: ${PARTS.join(', ')})`);
const runs = (part: string): boolean => !only || only.includes(part);
const T_READ = 12;
const started = Date.now();
const log = (s: string): void => void process.stdout.write(`${s}\n`);

log(`w1mqtt bench${quick ? ' (--quick)' : ''}: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), t_read ${T_READ} ms`);
if (['cost', 'starve', 'bundled', 'loads', 'startup', 'memory'].some(runs)) {
  log('building dist/ for the agent processes …');
  execFileSync(process.execPath, [new URL('../scripts/build.mjs', import.meta.url).pathname], { cwd: new URL('../', import.meta.url).pathname, stdio: 'inherit' });
}

// (a) one bus, N sensors, 12 and 9 bit
const sizes = quick ? [1, 10] : [1, 10, 50, 100];
const cycles: CycleResult[] = [];
if (runs('cycle')) {
  for (const resolution of [12, 9] as const) {
    for (const n of sizes) {
      cycles.push(await measureCycles(n, resolution, { tReadMs: T_READ, reps: 3 }));
      log(`  measured N=${n} at ${resolution} bit`);
    }
  }
  log('\n(a) one bus: time to read every sensor once (ms); the minimal reader writes the bulk trigger, then reads each w1_slave in turn, nothing else');
  log(
    table(
      ['N', 'bits', 'floor', 'minimal reader', 'w1mqtt (bulk)', 'w1mqtt / floor', 'w1mqtt / minimal', 'one by one', 'one by one / w1mqtt'],
      cycles.map((c) => [String(c.n), String(c.resolution), c.floorMs, c.minimalMs ?? Number.NaN, c.bulkMs, c.bulkMs / c.floorMs, c.bulkMs / (c.minimalMs ?? Number.NaN), c.oneByOneMs, c.oneByOneMs / c.bulkMs]),
    ),
  );
}

// (b) two buses in parallel
const perBus = quick ? 10 : 50;
let two: CycleResult | undefined;
if (runs('two')) {
  two = await measureCycles(perBus, 12, { tReadMs: T_READ, reps: 3, buses: 2 });
  log(`\n(b) two buses of ${perBus} at 12 bit, read in parallel (ms)`);
  log(table(['floor (per bus)', 'w1mqtt (bulk)', 'w1mqtt / floor', 'one by one', 'one by one / w1mqtt'], [[two.floorMs, two.bulkMs, two.bulkMs / two.floorMs, two.oneByOneMs, two.oneByOneMs / two.bulkMs]]));
}

// thread pool
let starve: StarveResult[] = [];
if (runs('starve')) {
  starve = await measureStarvation(4, 5);
  log('\n(e) thread pool: 4 buses × 5 sensors at 12 bit read once, while an unrelated fs.stat runs every 20 ms');
  log(table(['reader', 'UV_THREADPOOL_SIZE', 'cycle ms', 'fs.stat wait p50 ms', 'worst ms'], starve.map((s) => [s.label, String(s.pool), s.cycleMs, s.p50, s.max])));
}

// (c) agent cost
let cost: CostResult[] = [];
const sensors = quick ? 200 : 1000;
// BENCH_READINGS=30000 for steadier CPU figures when comparing two builds (each run then takes ~30 s).
const readings = Number(process.env['BENCH_READINGS']) || (quick ? 2_000 : 10_000);
if (runs('cost')) {
  const mosquitto = await startMosquitto();
  try {
    if (!existsSync(DEBIAN_PYTHON)) throw new Error(`${DEBIAN_PYTHON} missing`);
    cost = await measureCost(sensors, readings, { mosquittoUrl: mosquitto.url });
  } finally {
    await mosquitto.stop();
  }
  log(`\n(c) agent cost: ${sensors} sensors (plain files, no delays) read every second, QoS 1, ${readings} readings counted by a subscriber`);
  log(table(['publisher', 'CPU s / 10 000 readings', 'peak RSS MB', 'of it the publisher'], cost.map((c) => [c.label, c.cpuPer10k, c.peakRssMb, c.agentPeakRssMb])));
}

// (d) broker latency
let latency: LatencyResult[] = [];
if (runs('latency')) {
  latency = await measureLatency(quick ? 200 : 1000, 2);
  log('\n(d) publish → receive latency, QoS 1, one message every 2 ms (ms)');
  log(table(['broker', 'messages', 'p50', 'p99'], latency.map((l) => [l.broker, String(l.messages), l.p50, l.p99])));
}

// (f) the demo with its bundled mosquitto, as users run it
let bundled: BundledResult[] = [];
if (runs('bundled')) {
  const seconds = quick ? 10 : 60;
  bundled = await measureBundled(seconds);
  log(`\n(f) w1mqtt demo (19 measurements every 5 s, bundled broker, live page on), after ${seconds} s`);
  log(table(['process', 'RSS MB', 'peak RSS MB', 'CPU s'], bundled.map((b) => [b.process, b.rssMb, b.peakRssMb, b.cpuS])));
}

// (g) the page's history over a simulated day
let history: HistoryResult[] = [];
const historySensors = quick ? 100 : 1000;
if (runs('history')) {
  history = await measureHistory(historySensors);
  log(`\n(g) the live page's history: a day fast-forwarded through the injected clock (a plain Node process runs in ${fmt(history[0]?.emptyRssMb ?? 0)} MB)`);
  log(
    table(
      ['sensors', 'interval s', 'readings', 'CPU s', 'kB per sensor', 'chart points', 'saved kB per sensor', 'peak RSS MB (held)', 'peak RSS MB (+ saved form)'],
      history.map((h) => [String(h.sensors), String(h.intervalMs / 1000), String(h.readings), h.cpuS, h.bytesPerSensor / 1024, String(h.chartPoints), h.fileBytesPerSensor / 1024, h.heldRssMb, h.peakRssMb]),
    ),
  );
}

// (h) the loads people run, default config, against the Python loop on the same broker
let loads: LoadResult[] = [];
const loadCases = [
  { sensors: 20, intervalS: 5 },
  { sensors: 20, intervalS: 30 },
  { sensors: 100, intervalS: 5 },
  { sensors: 100, intervalS: 30 },
];
if (runs('loads')) {
  if (!existsSync(DEBIAN_PYTHON)) throw new Error(`${DEBIAN_PYTHON} missing`);
  // Each a multiple of every interval; the first window long enough for five 30 s cycles, the
  // steady one opening once V8 has done compiling what these rates make hot (five minutes).
  const windows = quick ? { windowS: 30, warmupS: 40, steadyS: 30 } : { windowS: 150, warmupS: 300, steadyS: 300 };
  const mosquitto = await startMosquitto();
  try {
    loads = await measureLoads(loadCases, mosquitto.url, windows);
  } finally {
    await mosquitto.stop();
  }
  log(`\n(h) real loads: bin/w1mqtt.cjs run with the default config (page on, fds kept as on sysfs), a Python + paho loop and Node's own parts alone (floor-node.mjs), each its own plain-file sensors, QoS 1 retained, one mosquitto; all at once, CPU over the same two windows, timed from the last process's first full cycle`);
  const loadTable = (w: (l: LoadResult) => LoadWindow): string =>
    table(
      ['load', 'w1mqtt % core', 'Python % core', 'ratio', 'Node floor % core', 'floor / Python', 'w1mqtt / floor', 'readings (w1mqtt / Python / floor)'],
      loads.map((l) => {
        const x = w(l);
        return [
          `${l.sensors} sensors every ${l.intervalS} s`,
          (100 * x.agentCpuS) / x.seconds,
          (100 * x.pythonCpuS) / x.seconds,
          x.agentCpuS / x.pythonCpuS,
          (100 * x.floorCpuS) / x.seconds,
          x.floorCpuS / x.pythonCpuS,
          x.agentCpuS / x.floorCpuS,
          `${x.agentReadings} / ${x.pythonReadings} / ${x.floorReadings}`,
        ];
      }),
    );
  const span = (x: LoadWindow | undefined): string => (x ? `${x.fromS.toFixed(0)}–${(x.fromS + x.seconds).toFixed(0)} s after the last first full cycle` : '?');
  log(`\nfirst minutes, ${span(loads[0]?.first)} (V8 still compiling what is hot):`);
  log(loadTable((l) => l.first));
  log(`\nsteady, ${span(loads[0]?.steady)} (${quick ? '--quick: too soon to be steady, a check of the part only' : 'what the service costs from then on'}; the targets):`);
  log(loadTable((l) => l.steady));
}

// (i) start-up to the first full cycle
let startup: StartupResult | undefined;
const startupSensors = quick ? 200 : 1000;
if (runs('startup')) {
  startup = await measureStartup(startupSensors);
  log(`\n(i) start-up: bin/w1mqtt.cjs run, default config (page on, bundled broker), ${startupSensors} sensors, from exec until a subscriber has seen every sensor once`);
  log(table(['sensors', 'agent CPU s', 'wall s', 'bundled mosquitto CPU s'], [[String(startup.sensors), startup.cpuS, startup.wallS, startup.brokerCpuS]]));
}

// (j) agent + bundled broker memory at a small load
let memory: MemoryResult[] = [];
const memorySensors = 20;
const memoryIntervalS = 5;
const memoryCycles = quick ? 2 : 6;
if (runs('memory')) {
  memory = await measureMemory(memorySensors, memoryIntervalS, memoryCycles);
  log(`\n(j) memory: bin/w1mqtt.cjs run, default config (page on, bundled broker), ${memorySensors} sensors every ${memoryIntervalS} s, after ${memoryCycles} cycles past the first`);
  log(table(['process', 'RSS MB', 'peak RSS MB'], memory.map((m) => [m.process, m.rssMb, m.peakRssMb])));
}

// targets (only those whose part ran)
const targets: { name: string; value: string; met: boolean }[] = [];
if (cycles.length > 0) {
  const worst = cycles.reduce((a, c) => (c.bulkMs / c.floorMs > a.bulkMs / a.floorMs ? c : a));
  const at50 = cycles.find((c) => c.n === (quick ? 10 : 50) && c.resolution === 12);
  targets.push(
    { name: 'cycle ≤ 1.10 × floor, every N', value: `worst ${fmt(worst.bulkMs / worst.floorMs)}× (N=${worst.n}, ${worst.resolution} bit)`, met: worst.bulkMs / worst.floorMs <= 1.1 },
    { name: `≥ 25× faster than one by one at N=${at50?.n ?? '?'}`, value: `${fmt((at50?.oneByOneMs ?? 0) / (at50?.bulkMs ?? 1))}×`, met: (at50?.oneByOneMs ?? 0) / (at50?.bulkMs ?? 1) >= 25 },
  );
  const vsMinimal = cycles.filter((c) => c.minimalMs !== undefined);
  if (vsMinimal.length > 0) {
    const ratio = (c: CycleResult): number => c.bulkMs / (c.minimalMs ?? Number.NaN);
    const worstMin = vsMinimal.reduce((a, c) => (ratio(c) > ratio(a) ? c : a));
    targets.push({ name: 'bus cycle ≤ 1.02× the minimal reader, every N', value: `worst ${fmt(ratio(worstMin))}× (N=${worstMin.n}, ${worstMin.resolution} bit)`, met: vsMinimal.every((c) => ratio(c) <= 1.02) });
  }
}
if (cost.length > 0) {
  const agent = cost.find((c) => c.label.startsWith('w1mqtt → mosquitto (fds kept'));
  const python = cost.find((c) => c.label.startsWith('python3'));
  const floor = cost.find((c) => c.label === FLOOR_LABEL);
  const dflt = cost.find((c) => c.label === DEFAULT_LABEL);
  // The RSS target keeps the page-off runs it was set on; the default config's figure is printed beside it.
  const agentRuns = cost.filter((c) => c.label.startsWith('w1mqtt') && c !== dflt);
  // The agent process itself; the bundled mosquitto beside it is in the table and in part (f).
  const peak = Math.max(...agentRuns.map((c) => c.agentPeakRssMb));
  // A partial run (BENCH_COST) without the agent or the baseline has no CPU ratio to print.
  if (dflt && python) {
    targets.push({
      name: `${sensors} readings/s, default config: ≤ 1.0× the Python loop`,
      value: `${fmt(dflt.cpuPer10k / python.cpuPer10k)}×${agent ? ` (page off: ${fmt(agent.cpuPer10k / python.cpuPer10k)}×)` : ''}${floor ? ` (Node's fs.read + MQTT.js alone: ${fmt(floor.cpuPer10k / python.cpuPer10k)}×)` : ''}`,
      met: dflt.cpuPer10k <= python.cpuPer10k,
    });
  }
  if (dflt && floor) {
    targets.push({
      name: `${sensors} readings/s, default config: ≤ 1.3× the floor row (Node's fs.read + MQTT.js alone)`,
      value: `${fmt(dflt.cpuPer10k / floor.cpuPer10k)}×${agent ? ` (page off: ${fmt(agent.cpuPer10k / floor.cpuPer10k)}×)` : ''}`,
      met: dflt.cpuPer10k <= 1.3 * floor.cpuPer10k,
    });
  }
  if (agentRuns.length > 0) targets.push({ name: `agent RSS < 80 MB at ${sensors} sensors (page off)`, value: `${fmt(peak)} MB${dflt ? ` (default config, page on: ${fmt(dflt.agentPeakRssMb)} MB)` : ''}`, met: peak < 80 });
}
if (history.length > 0) {
  for (const h of history.filter((x) => x.sensors === 1)) {
    targets.push({ name: `history ≤ 64 kB per sensor at ${h.intervalMs / 1000} s, after a day`, value: `${fmt(h.bytesPerSensor / 1024)} kB`, met: h.bytesPerSensor <= 64 * 1024 });
  }
  const many = history.find((x) => x.sensors === historySensors);
  if (many) targets.push({ name: `peak RSS < 100 MB with ${historySensors} sensors at 1 s after a day`, value: `${fmt(many.heldRssMb)} MB (${fmt(many.peakRssMb)} MB while building the saved form)`, met: many.heldRssMb < 100 });
}
for (const l of loads) {
  const { first, steady } = l;
  const ratio = steady.agentCpuS / steady.pythonCpuS;
  targets.push({
    name: `${l.sensors} sensors every ${l.intervalS} s, page on: agent CPU ≤ 1.5× Python + paho`,
    value: `${fmt(ratio)}× steady (${fmt((100 * steady.agentCpuS) / steady.seconds)} % of a core against ${fmt((100 * steady.pythonCpuS) / steady.seconds)} %); first minutes ${fmt(first.agentCpuS / first.pythonCpuS)}×; Node's fs.read + MQTT.js alone: ${fmt(steady.floorCpuS / steady.pythonCpuS)}× steady`,
    met: ratio <= 1.5,
  });
}
if (startup) targets.push({ name: `start-up to the first full cycle with ${startup.sensors} sensors ≤ 1 CPU s`, value: `${fmt(startup.cpuS)} CPU s (${fmt(startup.wallS)} s wall)`, met: startup.cpuS <= 1 });
const together = memory.find((m) => m.process === 'together');
if (together) targets.push({ name: `agent + bundled broker RSS at ${memorySensors} sensors, page on < 60 MB`, value: `${fmt(together.rssMb)} MB (peak ${fmt(together.peakRssMb)} MB)`, met: together.rssMb < 60 });
const result = { date: new Date().toISOString(), node: process.version, cores: availableParallelism(), quick, only, tReadMs: T_READ, cycles, twoBuses: two, starve, cost, latency, bundled, history, loads, startup, memory, targets, seconds: (Date.now() - started) / 1000 };
// A partial run keeps the last full result.json.
const out = only ? `./result-${only.join('-')}.json` : './result.json';
await writeFile(new URL(out, import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
log(`\nwrote bench/${out.slice(2)} (${fmt(result.seconds)} s)`);
for (const t of targets) log(`target: ${t.name}: ${t.value}: ${t.met ? 'MET' : 'NOT MET'}`);
