import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { memoryLog } from '../helpers/memory-log.js';
import { byTopic, firstArrivals, key, outage, SENSORS, type Outage, type Reading } from '../helpers/outage.js';
import { until, waitFor } from '../helpers/until.js';

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 180_000, skip: noMosquitto };
/** The outbox's send window and mark interval (src/outbox/outbox.ts, disk.ts): what bounds duplicates. */
// The agent's reconnect back-off doubles up to 30 s: a broker back just after a failed try is
// seen up to 30 s later, and the queue drains after that (on a busy machine, slowly).
const DRAIN_MS = 75_000;
const WINDOW = 32;
const MARK_EVERY = 100;
/** Waits until `n` more readings than now were produced. */
async function produce(o: Outage, n: number): Promise<void> {
  const target = o.produced().length + n;
  await until(() => `${target} readings (the agent produced ${o.produced().length})`, () => o.produced().length >= target, 30_000, 50);
}

/**
 * Every produced reading arrived; per topic the first arrivals are in production order. A
 * reading can arrive before its log line does (two pipes), so arrivals not logged yet may
 * follow the logged ones, never precede them.
 */
function assertAllInOrder(o: Outage, produced: readonly Reading[]): { duplicates: number } {
  const got = firstArrivals(o.received());
  for (const [topic, payloads] of byTopic(produced)) {
    const arrived = got.get(topic) ?? [];
    assert.deepEqual(arrived.slice(0, payloads.length), payloads, `${topic}: every reading, in order`);
    assert.ok(arrived.length - payloads.length <= 2, `${topic}: ${arrived.length - payloads.length} arrivals the agent never logged`);
  }
  // Retained copies come again with each resubscribe of mosquitto_sub after a broker restart: not duplicates.
  const live = o.sub.retainedLines.filter((m) => !m.retained && !m.topic.endsWith('/availability'));
  return { duplicates: live.length - new Set(live.map(key)).size };
}

/** Readings produced after the agent logged `connection lost` (index into its log). */
function producedAfterLoss(o: Outage): Reading[] {
  const logs = o.agents.flatMap((a) => a.logs);
  const lost = logs.findIndex((l) => l['msg'] === 'connection lost');
  const back = logs.findIndex((l, i) => i > lost && (l['msg'] === 'reconnected' || l['msg'] === 'connected'));
  return logs.slice(lost, back === -1 ? undefined : back).filter((l) => l['msg'] === 'reading').map((l) => ({ topic: String(l['topic']), payload: String(l['payload']) }));
}

test('json payloads through a broker restart: every reading delivered, in order; nothing on disk while healthy', T, async (t) => {
  const o = await outage(t, { payload: 'json' });
  const agent = await o.startAgent();
  await produce(o, 9);
  await o.allReceived();
  assert.deepEqual(await o.queueFiles(), [], 'a healthy broker costs no disk write');
  assert.match(o.mosquitto.log(), new RegExp(`as ${o.clientId} \\(p5, c0`), 'MQTT 5 with a persistent session (clean start off)');

  await o.stopBroker();
  await agent.waitForLog((l) => l['msg'] === 'connection lost');
  await produce(o, 12);
  assert.equal((await o.queueFiles()).length, 1, 'queued on disk during the outage');
  await o.startBroker();
  await agent.waitForLog((l) => l['msg'] === 'outbox delivered: queue empty', DRAIN_MS);
  await produce(o, 3);
  const { duplicates } = assertAllInOrder(o, await o.allReceived());
  t.diagnostic(`${o.produced().length} produced, ${producedAfterLoss(o).length} during the outage, ${duplicates} duplicates`);
  assert.ok(duplicates <= WINDOW, `${duplicates} duplicates: at most what was in flight when the broker went`);
  assert.ok(producedAfterLoss(o).length >= 12);
  assert.deepEqual(await o.queueFiles(), [], 'delivered: the queue file is gone');
  for (const p of o.produced()) assert.equal(JSON.parse(p.payload).unit, 'C');
});

test('agent SIGKILLed during the outage, restarted, broker back: still none missing', T, async (t) => {
  const o = await outage(t, { payload: 'json' });
  const first = await o.startAgent();
  await produce(o, 6);
  await o.stopBroker();
  await first.waitForLog((l) => l['msg'] === 'connection lost');
  await produce(o, 9);
  assert.equal(await first.stop('SIGKILL'), 'SIGKILL');
  const queuedByFirst = producedAfterLoss(o).length;

  const second = await o.startAgent();
  const resumed = await second.waitForLog((l) => l['msg'] === 'outbox holds readings from an earlier run: delivering them first');
  assert.ok(Number(resumed['queued']) >= queuedByFirst, `${String(resumed['queued'])} queued, ${queuedByFirst} produced in the outage`);
  await produce(o, 6);
  await o.startBroker();
  await second.waitForLog((l) => l['msg'] === 'outbox delivered: queue empty', DRAIN_MS);
  const { duplicates } = assertAllInOrder(o, await o.allReceived());
  t.diagnostic(`${o.produced().length} produced by two agents, ${duplicates} duplicates`);
  assert.ok(duplicates <= MARK_EVERY + WINDOW, `${duplicates} duplicates: at most one mark interval plus the send window`);
});

test('agent SIGKILLed while the link looks up but nothing is acknowledged (half-open TCP): every reading the spill wrote survives', T, async (t) => {
  const o = await outage(t, { payload: 'json', proxy: true });
  const proxy = o.proxy ?? assert.fail('a proxy');
  const first = await o.startAgent();
  await produce(o, 6);
  await o.allReceived();
  const silentFrom = o.produced().length;
  proxy.blackhole(); // the Wi-Fi is gone: writes still succeed, no PUBACK comes back
  // Unacknowledged past the spill window (1 s, its timing is the unit test's), a reading is written though the link looks up.
  const madeSilent = (): string[] => o.produced().slice(silentFrom).map(key);
  const readingTopics = new Set<string>(Object.values(SENSORS)); // not availability or status
  const spilled = await waitFor(
    () => `six readings made in the silence on disk (${madeSilent().length} made)`,
    async () => {
      const disk = (await o.onDisk()).filter((r) => readingTopics.has(r.topic));
      const keys = new Set(disk.map(key));
      return madeSilent().filter((k) => keys.has(k)).length >= 6 ? disk : undefined;
    },
    60_000,
    100,
  );
  assert.equal(await first.stop('SIGKILL'), 'SIGKILL');
  assert.equal(first.logs.filter((l) => l['msg'] === 'connection lost').length, 0, 'the connection looked up all along');
  // Written oldest first: from the first reading of the silence on disk to the last, none is left out.
  const onDisk = new Set(spilled.map(key));
  const silent = madeSilent();
  const span = silent.slice(silent.findIndex((k) => onDisk.has(k)), silent.findLastIndex((k) => onDisk.has(k)) + 1);
  assert.deepEqual(span.filter((k) => !onDisk.has(k)), [], 'no gap in what was written');
  t.diagnostic(`${silent.length} readings made in the silence, ${spilled.length} on disk at the SIGKILL`);
  // A reading the subscriber got just before the silence may be on disk too: its PUBACK was lost in it, so it goes again (QoS 1).
  const before = o.produced().slice(0, silentFrom);
  const delivered = new Set(before.map(key));
  const old = [...before, ...spilled.filter((r) => !delivered.has(key(r)))];

  proxy.restore();
  const second = await o.startAgent();
  await second.waitForLog((l) => l['msg'] === 'outbox holds readings from an earlier run: delivering them first');
  await second.waitForLog((l) => l['msg'] === 'outbox delivered: queue empty', DRAIN_MS);
  await produce(o, 3);
  const expected = [...old, ...second.logs.filter((l) => l['msg'] === 'reading').map((l) => ({ topic: String(l['topic']), payload: String(l['payload']) }))];
  let missing: Reading[] = [];
  await until(
    () => `every reading: ${missing.length} of ${expected.length} missing, e.g. ${JSON.stringify(missing.slice(0, 3))}`,
    () => {
      const got = new Set(o.received().map(key));
      missing = expected.filter((r) => !got.has(key(r)));
      return missing.length === 0;
    },
    20_000,
    100,
  );
  const got = firstArrivals(o.received());
  for (const [topic, payloads] of byTopic(expected)) {
    const arrived = (got.get(topic) ?? []).filter((p) => payloads.includes(p));
    assert.deepEqual(arrived, payloads, `${topic}: in order`);
  }
});

test('MQTT 5: publishes the broker ACL refuses (PUBACK 0x87) are rejected once and logged, never kept; the others delivered', T, async (t) => {
  // Anonymous clients may use every topic but test/c/#.
  const o = await outage(t, { payload: 'json', mqtt: '  protocol: 5\n', acl: 'topic readwrite #\ntopic deny test/c/#\n' });
  const agent = await o.startAgent();
  await produce(o, 24); // 8 s: refused ones retried would wait past the spill window (1 s, 5 s before) and land on disk
  const allowed = (): Reading[] => o.produced().filter((r) => !r.topic.startsWith('test/c/'));
  const expected = allowed();
  await o.sub.waitFor(() => {
    const got = new Set(o.received().map(key));
    return expected.every((r) => got.has(key(r)));
  }, 20_000);
  assert.equal(o.received().filter((r) => r.topic.startsWith('test/c/')).length, 0);
  assert.deepEqual(await o.queueFiles(), [], 'nothing held back on disk');
  const refused = agent.logs.filter((l) => String(l['msg']).startsWith('broker refused a publish') && l['topic'] === 'test/c/temperature');
  assert.equal(refused.length, 1, 'logged once, not once per reading');
  assert.equal(refused[0]?.['reasonCode'], '0x87');

  // Through an outage: what was queued on disk for the refused topic does not hold the queue either.
  await o.stopBroker();
  await agent.waitForLog((l) => l['msg'] === 'connection lost');
  await produce(o, 9);
  const refusedInOutage = producedAfterLoss(o).filter((r) => r.topic.startsWith('test/c/')).length;
  await o.startBroker();
  const summary = await agent.waitForLog((l) => l['msg'] === 'outbox delivered: queue empty', DRAIN_MS);
  assert.ok(refusedInOutage >= 2 && Number(summary['rejected']) >= refusedInOutage, `rejected ${String(summary['rejected'])}, ${refusedInOutage} queued in the outage`);
  assert.equal(Number(summary['delivered']) + Number(summary['rejected']) >= producedAfterLoss(o).length, true, 'every queued one settled');
  assert.deepEqual(await o.queueFiles(), [], 'delivered or rejected: the queue file is gone');
  assert.equal(agent.logs.filter((l) => String(l['msg']).startsWith('broker refused a publish') && l['topic'] === 'test/c/temperature').length, 1, 'still the one episode');
});

test('queue limit: the oldest are dropped and counted, the newest kept', T, async (t) => {
  const o = await outage(t, { payload: 'json', yaml: 'outbox:\n  max_messages: 5\n' });
  const agent = await o.startAgent();
  await produce(o, 3);
  await o.stopBroker();
  await agent.waitForLog((l) => l['msg'] === 'connection lost');
  await produce(o, 12);
  await o.startBroker();
  await agent.waitForLog((l) => l['msg'] === 'reconnected');
  const stopped = await agent.waitForLog((l) => l['msg'] === 'outbox no longer full: stopped dropping readings', 30_000);
  const during = producedAfterLoss(o);
  // The newest reading of the outage is kept; once it is in, everything kept before it is too (one connection, in order).
  const newest = key(during.at(-1) ?? { topic: '', payload: '' });
  await o.sub.waitFor(() => o.received().some((r) => key(r) === newest), 20_000);
  const got = new Set(o.received().map(key));
  const kept = during.filter((r) => got.has(key(r)));
  // At most max_messages; fewer by the readings still unacknowledged when the broker went (they count, and go first).
  assert.ok(kept.length >= 1 && kept.length <= 5, `${kept.length} of ${during.length} kept`);
  assert.deepEqual(kept, during.slice(-kept.length), 'the newest are the ones kept');
  assert.equal(stopped['dropped'], during.length - kept.length, 'every drop counted');
  assert.equal(agent.logs.filter((l) => l['msg'] === 'outbox full: dropping the oldest queued readings').length, 1, 'logged once when dropping starts');
});

test('a queue file cut mid-record and with a damaged record: the agent recovers every whole record', T, async (t) => {
  const o = await outage(t, { payload: 'json' });
  const first = await o.startAgent();
  await o.stopBroker();
  await first.waitForLog((l) => l['msg'] === 'connection lost');
  await produce(o, 8);
  await first.stop('SIGKILL');
  const [name] = await o.queueFiles();
  assert.ok(name);
  const file = join(o.stateDir, 'outbox', name);
  const original = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  const readings = original.map((line): Reading => {
    const r = JSON.parse(line.slice(9)) as { t: string; p: string };
    return { topic: r.t, payload: r.p };
  });
  // One record with a changed letter (its CRC no longer matches), and the last one cut short.
  const damaged = readings.findIndex((r, i) => i >= readings.length >> 1 && !r.topic.endsWith('/availability'));
  const lines = original.map((l, i) => (i === damaged ? l.replace('temperature', 'temperaturE') : l));
  await writeFile(file, lines.join('\n') + '\n');
  await truncate(file, (await readFile(file)).length - 10);
  const expected = readings.filter((_, i) => i !== damaged && i !== readings.length - 1);
  const lost = [readings[damaged], readings.at(-1)].map((r) => key(r ?? { topic: '', payload: '' }));

  await o.startBroker();
  const second = await o.startAgent();
  const report = await second.waitForLog((l) => String(l['msg']).startsWith('outbox file damaged'));
  assert.deepEqual([report['recovered'], report['corrupt'], Number(report['tornBytes']) > 0], [expected.length, 1, true]);
  await second.waitForLog((l) => l['msg'] === 'outbox delivered: queue empty', DRAIN_MS);
  await produce(o, 3);
  const got = new Set(o.sub.retainedLines.map(key));
  for (const r of expected) assert.ok(got.has(key(r)), `recovered ${key(r)}`);
  for (const k of lost) assert.equal(got.has(k), false, 'the damaged and the torn record are not invented');
  assert.equal(second.child.exitCode, null, 'still running');
});

test('queue: latest (the plain default): after the outage only the newest reading per topic', T, async (t) => {
  const o = await outage(t, { payload: 'plain' });
  const agent = await o.startAgent();
  await produce(o, 3);
  await o.stopBroker();
  await agent.waitForLog((l) => l['msg'] === 'connection lost');
  await produce(o, 12);
  await o.startBroker();
  await agent.waitForLog((l) => l['msg'] === 'outbox delivered: queue empty', DRAIN_MS);
  await produce(o, 3);
  // Once the newest reading of each topic is in, everything before it has been sent.
  const newest = [...byTopic(o.produced())].map(([topic, payloads]) => `${topic} ${payloads.at(-1)}`);
  await o.sub.waitFor(() => newest.every((k) => o.received().some((r) => key(r) === k)), 20_000);
  const during = byTopic(producedAfterLoss(o));
  const got = new Set(o.received().map(key));
  assert.equal(during.size, Object.keys(SENSORS).length);
  for (const [topic, payloads] of during) {
    assert.ok(payloads.length >= 3, `${topic}: ${payloads.length} readings during the outage`);
    // Two reads within one step of the fixture's temperature carry the same value: only a distinct value tells a reading apart.
    const newestValue = payloads.at(-1) ?? '';
    const older = [...new Set(payloads.filter((p) => p !== newestValue))];
    // Outside the outage (before it, after it) none of them was produced again, so a received one can only be from the outage.
    const all = o.produced().filter((r) => r.topic === topic).map((r) => r.payload);
    const start = all.findIndex((_, i) => payloads.every((p, j) => all[i + j] === p));
    assert.ok(start >= 0, `${topic}: the outage's readings are a run of all readings`);
    const outside = new Set([...all.slice(0, start), ...all.slice(start + payloads.length)]);
    assert.ok(older.length >= 2, `${topic}: ${older.length} distinct older values in ${payloads.join(', ')}`);
    assert.deepEqual(older.filter((p) => outside.has(p)), [], `${topic}: values are unique across the run`);
    assert.ok(got.has(`${topic} ${newestValue}`), `${topic}: the newest (${newestValue}) delivered`);
    assert.deepEqual(older.filter((p) => got.has(`${topic} ${p}`)), [], `${topic}: none of the older ones of ${payloads.join(', ')}`);
  }
  const superseded = agent.logs.find((l) => l['msg'] === 'outbox delivered: queue empty')?.['superseded'];
  assert.ok(Number(superseded) >= 6, `superseded ${String(superseded)}`);
});

test('persistent session: the broker keeps it between connections, on MQTT 3.1.1 and 5', { timeout: 30_000, skip: noMosquitto }, async (t) => {
  const mosquitto = await startMosquitto();
  t.after(() => mosquitto.stop());
  for (const protocol of [4, 5] as const) {
    const mqtt = configSchema.parse({ mqtt: { client_id: `w1mqtt-session-${protocol}`, protocol } }).mqtt;
    const sessions: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const { log, find } = memoryLog();
      const publisher = new MqttPublisher({ url: mosquitto.url, mqtt, statusTopic: 'test/status', log });
      await publisher.start();
      sessions.push(find('connected')[0]?.['sessionPresent']);
      await publisher.stop();
    }
    assert.deepEqual(sessions, [false, true], `protocol ${protocol}: the second connection resumes the session`);
  }
});
