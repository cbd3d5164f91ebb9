import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { historyPath, loadHistoryFile, saveHistoryFile } from '../../src/web/history-file.js';
import { History, HISTORY_WINDOW_MS } from '../../src/web/history.js';
import { Ring } from '../../src/web/ring.js';

const T = { timeout: 10_000 };
const H = 3_600_000;

test('ring: keeps the newest points, oldest first; NaN is a gap', T, () => {
  const ring = new Ring(3);
  assert.deepEqual(ring.columns(), { t: [], v: [] });
  assert.equal(ring.lastGood(), undefined);
  for (const [t, v] of [[1, 10], [2, 11], [3, NaN], [4, 13]] as const) ring.push(t, v);
  assert.equal(ring.size, 3);
  assert.deepEqual(ring.columns(), { t: [2, 3, 4], v: [11, null, 13] });
  assert.deepEqual(ring.columns(3), { t: [3, 4], v: [null, 13] });
  ring.push(5, NaN);
  assert.deepEqual(ring.lastGood(), { t: 4, v: 13 });
  assert.deepEqual(ring.resize(2).columns(), { t: [4, 5], v: [13, null] });
  assert.deepEqual(ring.resize(10).columns(), { t: [3, 4, 5], v: [null, 13, null] });
  assert.throws(() => new Ring(0), /positive integer/);
});

test('history: a day at each sensor’s interval, bounded whatever the uptime', T, () => {
  const h = new History();
  assert.equal(h.capacityFor(30_000), 2881);
  assert.equal(h.capacityFor(1_000), 86_401);
  const start = 1_700_000_000_000;
  // Two days of 5-minute readings: only the last day stays.
  for (let t = start; t < start + 48 * H; t += 300_000) h.record('28-a', 300_000, t, 20);
  const now = start + 48 * H;
  const { t } = h.columns('28-a', now);
  assert.equal(t.length, 288);
  assert.equal(t[0], now - HISTORY_WINDOW_MS);
  // A shorter interval grows the ring and keeps what it had.
  h.record('28-a', 60_000, now, 21);
  assert.equal(h.columns('28-a', now).t.length, 289);
  assert.deepEqual(h.lastGood('28-a'), { t: now, v: 21 });
});

test('history: snapshot and restore round-trip, old and future points dropped', T, () => {
  const a = new History();
  const now = 1_700_000_000_000;
  a.record('28-a', 30_000, now - 25 * H, 1); // older than a day: not saved
  a.record('28-a', 30_000, now - 60_000, 21.4375);
  a.record('28-a', 30_000, now - 30_000, NaN);
  a.record('28-a', 30_000, now, 21.5);
  a.record('10-b', 10_000, now, -0.0625);
  const saved = a.snapshot(now);
  assert.deepEqual(saved['28-a'], { intervalMs: 30_000, t0: now - 60_000, dt: [0, 30_000, 30_000], v: [21.4375, null, 21.5] });
  const b = new History();
  assert.equal(b.restore(saved, now + 1000), 4);
  assert.deepEqual(b.columns('28-a', now + 1000), { t: [now - 60_000, now - 30_000, now], v: [21.4375, null, 21.5] });
  assert.deepEqual(b.columns('10-b', now + 1000), { t: [now], v: [-0.0625] });
  // Restored a day later, nothing is left; a clock that went back drops the "future".
  assert.equal(new History().restore(saved, now + 25 * H), 0);
  assert.equal(new History().restore(saved, now - 45_000), 1);
});

test('history file: written once atomically, read back; garbage is kept aside, not overwritten', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-hist-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = historyPath(join(dir, 'state', 'nested'));
  assert.deepEqual(await loadHistoryFile(file), { kind: 'missing' });
  const sensors = { '28-a': { intervalMs: 30_000, t0: 1000, dt: [0, 30_000], v: [20.5, null] } };
  const bytes = await saveHistoryFile(file, sensors, new Date(0));
  assert.equal((await stat(file)).size, bytes);
  assert.deepEqual(await loadHistoryFile(file), { kind: 'loaded', sensors });
  assert.equal(JSON.parse(await readFile(file, 'utf8')).savedAt, '1970-01-01T00:00:00.000Z');

  for (const [text, reason] of [
    ['{"format":"w1mqtt-history"', /JSON/],
    ['{"format":"w1mqtt-history","version":1,"savedAt":"x","sensors":{"28-a":{"intervalMs":30000,"t0":1,"dt":[0],"v":[1,2]}}}', /same length/],
    ['{"format":"other","version":1,"savedAt":"x","sensors":{}}', /format/],
  ] as const) {
    await writeFile(file, text);
    const outcome = await loadHistoryFile(file);
    assert.equal(outcome.kind, 'invalid');
    assert.match(outcome.kind === 'invalid' ? outcome.reason : '', reason);
    assert.equal(outcome.kind === 'invalid' ? outcome.keptAs : '', `${file}.invalid`);
    assert.equal(await readFile(`${file}.invalid`, 'utf8'), text);
    assert.deepEqual(await loadHistoryFile(file), { kind: 'missing' });
  }
});
