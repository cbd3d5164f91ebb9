import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { w1SlaveText } from '../../src/onewire/scratchpad-encode.js';
import { FIXTURES, fixtureWorkspace, runCli, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { until } from '../helpers/until.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { subscribe, type SubMessage, type Subscriber } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';

/**
 * The agent end to end: the real CLI (`run`, `demo`) as a child process on copies of
 * the fixture trees, publishing to its bundled broker or a real mosquitto, watched by
 * a real mosquitto_sub. Every process is stopped by PID and every temp dir removed.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 30000, skip: noMosquitto };

const WARN = 40;
const KITCHEN = '28-0316a2792dff';
const KITCHEN_TOPIC = 'home/kitchen/temperature';
const LIVING = '10.C3A1B4020800'; // the DS18S20 the w1 source calls 10-000802b4a1c3
const LIVING_TOPIC = 'home/living/temperature';
/** Good, unmapped, on w1_bus_master1 with the kitchen sensor. */
const HALL = '28-0316a27a1c44';
const HALL_TOPIC = `home/1wire/${HALL}/temperature`;
/** Good, unmapped, on w1_bus_master2. */
const GARAGE_TOPIC = 'home/1wire/22-00000053e8a1/temperature';
const BOILER_TOPIC = 'home/1wire/3b-0000001852ad/temperature';
/** fixtures/w1/README.md: the faulty sensors and the code each must be reported with. */
const FAULTY: Readonly<Record<string, string>> = {
  '28-01192e4f6a10': 'power_on_reset',
  '28-01192e4f8b27': 'insufficient_power',
  '28-0000072d91f5': 'all_zero',
  '28-0000072d3e08': 'crc_mismatch',
  '28-0316a27b9d52': 'empty_read',
};
const SENSORS = {
  [KITCHEN]: { topic: KITCHEN_TOPIC, name: 'Kitchen' },
  [LIVING]: LIVING_TOPIC,
};

type Log = Record<string, unknown>;
type Workspace = Awaited<ReturnType<typeof fixtureWorkspace>>;

/** Cleanups run in reverse order after the test, each on its own (one failing does not skip the rest). */
function deferrer(t: TestContext): (fn: () => Promise<unknown>) => void {
  const fns: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const fn of fns.reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning up
      }
    }
  });
  return (fn) => void fns.push(fn);
}

async function workspace(defer: ReturnType<typeof deferrer>): Promise<Workspace> {
  const ws = await fixtureWorkspace();
  defer(() => ws.cleanup());
  return ws;
}

/** sensors.yaml with both fixture sources, a 1 s interval and the two mapped sensors, plus `extra`. */
function configYaml(ws: Workspace, extra: Record<string, unknown>): string {
  return stringify({
    sources: [
      { type: 'w1', path: ws.w1 },
      { type: 'owfs', path: ws.owfs },
    ],
    interval: '1s',
    sensors: SENSORS,
    ...extra,
  });
}

async function startAgent(defer: ReturnType<typeof deferrer>, args: string[]): Promise<AgentProcess> {
  const agent = startCli(args);
  defer(() => agent.stop('SIGKILL'));
  return agent;
}

async function startSub(defer: ReturnType<typeof deferrer>, port: number, topics = ['home/#']): Promise<Subscriber> {
  const sub = await subscribe({ port, topics });
  defer(() => sub.stop());
  return sub;
}

const on = (sub: Subscriber, topic: string): SubMessage[] => sub.retainedLines.filter((m) => m.topic === topic);

/** Waits until `topic` has at least `n` messages more than `from`. */
function messages(sub: Subscriber, topic: string, n: number, from = 0, timeoutMs = 10_000): Promise<void> {
  return until(() => `${n} messages on ${topic} after the first ${from}; got:\n${sub.lines.join('\n')}`, () => on(sub, topic).length >= from + n, timeoutMs);
}

const faultLines = (agent: AgentProcess, sensor: string): Log[] =>
  agent.logs.filter((l) => l['sensor'] === sensor && typeof l['msg'] === 'string' && l['msg'].startsWith('sensor fault'));

/** Replace a file the way a kernel attribute changes: never half-written for a concurrent reader. */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

const slaveFile = (ws: Workspace, id: string, master = 'w1_bus_master1'): string => join(ws.w1, master, id, 'w1_slave');

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test('bundled broker: retained readings, faults logged once and never published, a fault and its recovery, offline on SIGTERM', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const port = await freePort();
  const file = await ws.writeConfig(configYaml(ws, { broker: { port }, mqtt: { client_id: 'test-agent' } }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);
  // Subscribe once the first kitchen reading is surely at the broker, so it comes as a retained message.
  await until('two kitchen readings', () => agent.logs.filter((l) => l['msg'] === 'reading' && l['sensor'] === KITCHEN).length >= 2);
  const sub = await startSub(defer, port);

  const first = await sub.waitFor((m) => m.topic === KITCHEN_TOPIC);
  assert.deepEqual(first, { retained: true, topic: KITCHEN_TOPIC, payload: '23.13' });
  const expected: readonly (readonly [string, string])[] = [
    [LIVING_TOPIC, '22.06'],
    [GARAGE_TOPIC, '19.50'],
    [BOILER_TOPIC, '30.25'],
    [HALL_TOPIC, '25.06'],
    ['home/w1mqtt/test-agent/status', 'online'],
  ];
  for (const [topic, payload] of expected) {
    const m = await sub.waitFor((x) => x.topic === topic);
    assert.equal(m.payload, payload, topic);
    assert.equal(m.retained, true, `${topic} should be retained`);
  }

  // At least three more polling cycles of bus 1 (where the faulty sensors are).
  await messages(sub, KITCHEN_TOPIC, 3, 1);
  for (const [sensor, code] of Object.entries(FAULTY)) {
    assert.deepEqual(on(sub, `home/1wire/${sensor}/temperature`), [], `published a value for the faulty ${sensor}`);
    const lines = faultLines(agent, sensor);
    assert.equal(lines.length, 1, `${sensor}: ${JSON.stringify(lines)}`);
    assert.equal(lines[0]?.['level'], WARN);
    assert.equal(lines[0]?.['code'], code, sensor);
  }
  // The other kinds publish on their own topics (devices/kinds.ts), never a DS2401 temperature.
  for (const [topic, payload] of [['home/1wire/26-000000019a3b/humidity', '49.8'], ['home/1wire/01-0000efbeadde/presence', 'online']]) {
    assert.equal((await sub.waitFor((m) => m.topic === topic)).payload, payload, topic);
  }
  assert.ok(!sub.retainedLines.some((m) => /^home\/1wire\/01[-.][^/]*\/temperature$/i.test(m.topic)), 'a DS2401 temperature was published');

  // The kitchen sensor starts to answer with the power-on value: nothing published, one fault line.
  const powerOn = await readFile(join(FIXTURES, 'w1/devices/w1_bus_master1/28-01192e4f6a10/w1_slave'), 'latin1');
  assert.match(powerOn, /t=85000/);
  await replaceFile(slaveFile(ws, KITCHEN), powerOn);
  const fault = await agent.waitForLog((l) => faultLines(agent, KITCHEN).includes(l), 10_000);
  assert.equal(fault['code'], 'power_on_reset');
  assert.equal(fault['level'], WARN);
  const kitchenBefore = on(sub, KITCHEN_TOPIC).length;
  await messages(sub, HALL_TOPIC, 3, on(sub, HALL_TOPIC).length);
  assert.equal(on(sub, KITCHEN_TOPIC).length, kitchenBefore, `published while at 85 °C:\n${sub.lines.join('\n')}`);
  assert.equal(faultLines(agent, KITCHEN).length, 1);

  // A good reading again: recovered, and 24.50 published.
  await replaceFile(slaveFile(ws, KITCHEN), w1SlaveText('28', 24500));
  const recovered = await agent.waitForLog((l) => l['sensor'] === KITCHEN && l['msg'] === 'sensor recovered', 10_000);
  assert.equal(recovered['code'], 'power_on_reset');
  await sub.waitFor((m) => m.topic === KITCHEN_TOPIC && m.payload === '24.50');
  assert.equal(faultLines(agent, KITCHEN).length, 1);

  // SIGTERM: exit 0, and `offline` reached the subscriber before the bundled broker went away.
  const code = await agent.stop('SIGTERM');
  assert.equal(code, 0, agent.stderr());
  const offline = await sub.waitFor((m) => m.topic === 'home/w1mqtt/test-agent/status' && m.payload === 'offline', 2_000);
  assert.equal(offline.payload, 'offline');
  assert.ok(!agent.logs.some((l) => typeof l['msg'] === 'string' && /could not publish offline/.test(l['msg'])));
});

test('payload json: temperature, unit, time, the sensor id as written in sensors.yaml, name', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const port = await freePort();
  const file = await ws.writeConfig(configYaml(ws, { broker: { port }, mqtt: { client_id: 'test-json', payload: 'json' } }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);
  const sub = await startSub(defer, port);

  const parsed = async (topic: string): Promise<Record<string, unknown>> => {
    const m = await sub.waitFor((x) => x.topic === topic);
    const value: unknown = JSON.parse(m.payload);
    assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), m.payload);
    return value as Record<string, unknown>;
  };
  const recent = (time: unknown): void => {
    assert.equal(typeof time, 'string');
    const at = Date.parse(time as string);
    assert.ok(Number.isFinite(at), `time ${String(time)} does not parse`);
    assert.equal(new Date(at).toISOString(), time, 'time is not an ISO 8601 string');
    assert.ok(at > Date.now() - 60_000 && at <= Date.now() + 1_000, `time ${String(time)} is not within the last minute`);
  };

  const kitchen = await parsed(KITCHEN_TOPIC);
  assert.equal(kitchen['temperature'], 23.13);
  assert.equal(kitchen['unit'], 'C');
  assert.equal(kitchen['sensor'], KITCHEN);
  assert.equal(kitchen['name'], 'Kitchen');
  recent(kitchen['time']);

  const living = await parsed(LIVING_TOPIC);
  assert.equal(living['temperature'], 22.06);
  assert.equal(living['unit'], 'C');
  assert.equal(living['sensor'], LIVING, 'the id as written in sensors.yaml (OWFS notation), not the w1 source’s');
  recent(living['time']);

  const garage = await parsed(GARAGE_TOPIC);
  assert.equal(garage['temperature'], 19.5);
  assert.equal(garage['sensor'], '22-00000053e8a1');
  recent(garage['time']);
});

test('unmapped: ignore publishes the mapped sensors only', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const port = await freePort();
  const file = await ws.writeConfig(configYaml(ws, { broker: { port }, mqtt: { client_id: 'test-ignore' }, unmapped: 'ignore' }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  const running = await agent.waitForLog((l) => l['msg'] === 'running', 15_000);
  assert.equal(running['sensors'], 2);
  const sub = await startSub(defer, port);
  await messages(sub, KITCHEN_TOPIC, 2);
  await messages(sub, LIVING_TOPIC, 2);
  const topics = new Set(sub.retainedLines.map((m) => m.topic));
  // The agent's own stats go out once both sensors have been read (the first cycle).
  const published = [KITCHEN_TOPIC, LIVING_TOPIC, `${KITCHEN_TOPIC}/availability`, `${LIVING_TOPIC}/availability`, 'home/w1mqtt/test-ignore/status', 'home/w1mqtt/test-ignore/stats'];
  assert.deepEqual([...topics].sort(), published.sort());
});

test('external mosquitto: readings arrive, no bundled broker, and SIGKILL leaves the retained Last Will offline', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const mosquitto = await startMosquitto();
  defer(() => mosquitto.stop());
  const sub = await startSub(defer, mosquitto.port);
  const file = await ws.writeConfig(configYaml(ws, { mqtt: { url: mosquitto.url, client_id: 'test-ext' } }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);

  assert.equal((await sub.waitFor((m) => m.topic === KITCHEN_TOPIC)).payload, '23.13');
  assert.equal((await sub.waitFor((m) => m.topic === LIVING_TOPIC)).payload, '22.06');
  assert.equal((await sub.waitFor((m) => m.topic === GARAGE_TOPIC)).payload, '19.50');
  await sub.waitFor((m) => m.topic === 'home/w1mqtt/test-ext/status' && m.payload === 'online');
  assert.ok(!agent.logs.some((l) => l['msg'] === 'bundled broker listening'), 'started the bundled broker although mqtt.url is set');

  assert.equal(await agent.stop('SIGKILL'), 'SIGKILL');
  await sub.waitFor((m) => m.topic === 'home/w1mqtt/test-ext/status' && m.payload === 'offline', 5_000);
  // A new subscriber gets it as the retained status.
  const later = await startSub(defer, mosquitto.port, ['home/w1mqtt/test-ext/status']);
  assert.deepEqual(await later.waitFor(() => true), { retained: true, topic: 'home/w1mqtt/test-ext/status', payload: 'offline' });
});

test('broker down at start: the failure is logged once, and readings from the outage arrive once it is up', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const port = await freePort();
  const file = await ws.writeConfig(configYaml(ws, { mqtt: { url: `mqtt://127.0.0.1:${port}`, client_id: 'test-down', payload: 'json' } }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  const isMqttWarn = (l: Log): boolean => l['module'] === 'mqtt' && typeof l['level'] === 'number' && l['level'] >= WARN;
  const failed = await agent.waitForLog(isMqttWarn, 15_000);
  assert.match(String(failed['msg']), /connection failed/);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);
  // Several retries (1 s, 2 s, …) fall into these 4 s; only the first is a warning.
  await until('4 s after the first failure', () => Date.now() >= Date.parse(String(failed['time'])) + 4_000, 10_000);
  assert.equal(agent.logs.filter(isMqttWarn).length, 1, JSON.stringify(agent.logs.filter(isMqttWarn)));
  assert.equal(agent.child.exitCode, null, 'the agent exited');
  await until('a kitchen reading during the outage', () => agent.logs.some((l) => l['msg'] === 'reading' && l['sensor'] === KITCHEN));

  const mosquitto = await startMosquitto({ port });
  defer(() => mosquitto.stop());
  const sub = await startSub(defer, port);
  const connected = await agent.waitForLog((l) => l['module'] === 'mqtt' && (l['msg'] === 'connected' || l['msg'] === 'reconnected'), 20_000);
  const connectedAt = Date.parse(String(connected['time']));
  for (const topic of [KITCHEN_TOPIC, LIVING_TOPIC, GARAGE_TOPIC]) {
    const m = await sub.waitFor((x) => x.topic === topic && Date.parse(String((JSON.parse(x.payload) as Log)['time'])) < connectedAt, 5_000);
    assert.ok(m.payload.length > 0);
  }
  await sub.waitFor((m) => m.topic === 'home/w1mqtt/test-down/status' && m.payload === 'online');
  assert.equal(agent.child.exitCode, null, 'the agent was restarted or exited');
  assert.equal(agent.logs.filter((l) => l['msg'] === 'w1mqtt starting').length, 1);
});

test('a sensor that vanishes from its bus is reported once, the others keep publishing', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const port = await freePort();
  const file = await ws.writeConfig(configYaml(ws, { broker: { port }, mqtt: { client_id: 'test-vanish' } }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);
  const sub = await startSub(defer, port);
  await messages(sub, HALL_TOPIC, 1);

  await rm(join(ws.w1, HALL));
  await rm(join(ws.w1, 'w1_bus_master1', HALL), { recursive: true });
  const gone = (l: Log): boolean =>
    l['sensor'] === HALL && typeof l['msg'] === 'string' && (/vanished/.test(l['msg']) || (l['msg'].startsWith('sensor fault') && l['code'] === 'not_present'));
  const line = await agent.waitForLog(gone, 10_000);
  assert.equal(line['level'], WARN);
  const hall = on(sub, HALL_TOPIC).length;
  await messages(sub, KITCHEN_TOPIC, 2, on(sub, KITCHEN_TOPIC).length);
  await messages(sub, GARAGE_TOPIC, 2, on(sub, GARAGE_TOPIC).length);
  assert.equal(agent.logs.filter(gone).length, 1, JSON.stringify(agent.logs.filter(gone)));
  assert.equal(on(sub, HALL_TOPIC).length, hall, 'published for a sensor that is gone');
  assert.equal(agent.child.exitCode, null);
});

test('a w1 bus directory that disappears: the source failure is logged once, the agent keeps running, readings resume', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const port = await freePort();
  const file = await ws.writeConfig(configYaml(ws, { broker: { port }, mqtt: { client_id: 'test-bus' } }));
  const agent = await startAgent(defer, ['run', '-c', file]);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);
  const sub = await startSub(defer, port);
  await messages(sub, KITCHEN_TOPIC, 1);

  const source = `w1:${ws.w1}`;
  const sourceFailure = (l: Log): boolean =>
    typeof l['level'] === 'number' && l['level'] >= WARN && l['source'] === source && typeof l['msg'] === 'string' && !/back/.test(l['msg']);
  await rename(ws.w1, `${ws.w1}.gone`);
  const seen = await agent.waitForLog(sourceFailure, 4_000).catch((err: unknown) => err);
  // Whatever was logged, the agent must still be up and must pick the bus up again.
  assert.equal(agent.child.exitCode, null, 'the agent exited when the bus went away');
  await rename(`${ws.w1}.gone`, ws.w1);
  const before = on(sub, KITCHEN_TOPIC).length;
  await messages(sub, KITCHEN_TOPIC, 2, before);
  assert.equal(on(sub, KITCHEN_TOPIC).at(-1)?.payload, '23.13');
  assert.equal(agent.child.exitCode, null);

  assert.ok(!(seen instanceof Error), `no log line about the w1 source failing within 4 s (4 polling cycles) (per-sensor lines instead: ${agent.logs.filter((l) => l['code'] === 'not_present').length})`);
  assert.equal(agent.logs.filter(sourceFailure).length, 1, JSON.stringify(agent.logs.filter(sourceFailure)));
});

test('bundled broker port already in use: run exits 1 and names the port', T, async (t) => {
  const defer = deferrer(t);
  const ws = await workspace(defer);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  const file = await ws.writeConfig(configYaml(ws, { broker: { port: address.port } }));
  const r = await runCli(['run', '-c', file]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const output = r.stdout + r.stderr;
  assert.match(output, new RegExp(`port ${address.port}\\b[^\\n]*in use|in use[^\\n]*\\b${address.port}\\b`), output);
  assert.ok(!r.logs.some((l) => l['msg'] === 'running'), 'logged running although the broker could not listen');
});

test('demo: values drift on home/kitchen/temperature, SIGTERM exits 0 and removes the temp dir', T, async (t) => {
  const defer = deferrer(t);
  const port = await freePort();
  const agent = await startAgent(defer, ['demo', '--port', String(port), '--interval', '1s']);
  const intro = await agent.waitForLog((l) => typeof l['w1'] === 'string', 15_000);
  assert.equal(agent.logs[0], intro, 'the w1 path is on the first log line');
  const w1 = String(intro['w1']);
  const dir = dirname(dirname(w1)); // <tmp>/w1/devices
  defer(() => rm(dir, { recursive: true, force: true }));
  assert.ok(await exists(w1), `${w1} does not exist`);
  await agent.waitForLog((l) => l['msg'] === 'running', 15_000);

  const sub = await startSub(defer, port);
  await until(
    () => `two different values on ${KITCHEN_TOPIC}; got:\n${sub.lines.join('\n')}`,
    () => new Set(on(sub, KITCHEN_TOPIC).map((m) => m.payload)).size >= 2,
    8_000,
  );
  for (const m of on(sub, KITCHEN_TOPIC)) assert.match(m.payload, /^-?\d+\.\d\d$/);

  assert.equal(await agent.stop('SIGTERM'), 0, agent.stderr());
  assert.equal(await exists(dir), false, `${dir} is still there`);
});
