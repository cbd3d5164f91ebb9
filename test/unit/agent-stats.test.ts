import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statsPayload, StatsReporter } from '../../src/agent/stats.js';

const source = {
  sensors: () => 3,
  busStats: () => [
    { bus: 'w1_bus_master1', sensors: 2, lastCycleMs: 1520 },
    { bus: 'w1_bus_master2', sensors: 1, lastCycleMs: undefined },
  ],
  connected: () => true,
  published: () => 42,
  queue: () => ({ depth: 5, dropped: 1, rejected: 2 }),
};

test('the stats document: sensors, readings, the slowest cycle, the queue', { timeout: 5000 }, () => {
  const doc = JSON.parse(statsPayload(source, { ok: 40, failed: 2 }, 1_000_000, 1_061_500)) as Record<string, unknown>;
  assert.deepEqual(doc, {
    time: new Date(1_061_500).toISOString(),
    uptime_s: 61,
    sensors: 3,
    readings: { ok: 40, failed: 2 },
    last_cycle_ms: 1520,
    buses: [
      { bus: 'w1_bus_master1', sensors: 2, last_cycle_ms: 1520 },
      { bus: 'w1_bus_master2', sensors: 1, last_cycle_ms: null },
    ],
    mqtt: { connected: true, published: 42 },
    queue: { depth: 5, dropped: 1, rejected: 2 },
  });
});

test('the reporter counts readings and publishes them to its topic', { timeout: 5000 }, async () => {
  const sent: [string, string][] = [];
  const reporter = new StatsReporter({ source, topic: () => 'home/w1mqtt/pi/stats', intervalMs: 0, publish: async (t, p) => void sent.push([t, p]), now: () => 5000 });
  reporter.start();
  reporter.count(true);
  reporter.count(true);
  reporter.count(false);
  reporter.publishNow();
  assert.equal(sent[0]?.[0], 'home/w1mqtt/pi/stats');
  assert.deepEqual((JSON.parse(sent[0]?.[1] ?? '{}') as { readings: unknown }).readings, { ok: 2, failed: 1 });
  reporter.stop();
});

test('the stats go out once every planned sensor has been read (the first full cycle), not only after the interval', { timeout: 5000 }, async () => {
  const sent: string[] = [];
  const options = { source, topic: () => 'home/w1mqtt/pi/stats', publish: async (_t: string, p: string) => void sent.push(p), now: () => 5000, planned: () => ['28-a', '28-b', '28-b/humidity'] };
  // An hour's interval: only the first cycle can publish within this test.
  const reporter = new StatsReporter({ ...options, intervalMs: 3_600_000 });
  reporter.start();
  reporter.count(true, '28-a');
  reporter.count(false, '28-b');
  reporter.count(true, '28-a');
  assert.equal(sent.length, 0, 'not before every sensor has been read');
  reporter.count(true, '28-b/humidity');
  await new Promise(setImmediate);
  assert.equal(sent.length, 1);
  assert.deepEqual((JSON.parse(sent[0] ?? '{}') as { readings: unknown }).readings, { ok: 3, failed: 1 });
  // Once only: the next cycle waits for the interval.
  for (const key of ['28-a', '28-b', '28-b/humidity']) reporter.count(true, key);
  await new Promise(setImmediate);
  assert.equal(sent.length, 1);
  reporter.stop();
  // stats_interval 0 turns the stats off, the first cycle's message too.
  const off = new StatsReporter({ ...options, intervalMs: 0 });
  off.start();
  for (const key of ['28-a', '28-b', '28-b/humidity']) off.count(true, key);
  await new Promise(setImmediate);
  assert.equal(sent.length, 1);
  off.stop();
});
