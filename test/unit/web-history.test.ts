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
  // Full: the oldest comes back to the caller (the history folds it into its minute).
  assert.deepEqual(ring.push(6, 21.4375), { t: 3, v: NaN });
  assert.deepEqual(ring.shift(), { t: 4, v: 13 });
  assert.deepEqual(ring.columns(), { t: [5, 6], v: [null, 21.4375] });
  // Times 24 days apart cannot share a base: the ring rebases, or drops what is weeks away.
  ring.push(6 + 2 ** 31 - 10, 1);
  assert.deepEqual(ring.columns().t, [5, 6, 6 + 2 ** 31 - 10]);
  ring.push(1_700_000_000_000, 2);
  assert.deepEqual(ring.columns(), { t: [1_700_000_000_000], v: [2] });
  assert.throws(() => new Ring(0), /positive integer/);
});

test('history: a day at each sensor’s interval, bounded whatever the uptime', T, () => {
  const h = new History();
  const start = 1_700_000_000_000;
  // Two days of 5-minute readings: only the last day stays.
  for (let t = start; t < start + 48 * H; t += 300_000) h.record('28-a', 300_000, t, 20);
  const now = start + 48 * H;
  const { t } = h.columns('28-a', now);
  assert.equal(t.length, 288);
  assert.equal(t[0], now - HISTORY_WINDOW_MS);
  // Another interval keeps what it had.
  h.record('28-a', 60_000, now, 21);
  assert.equal(h.columns('28-a', now).t.length, 289);
  assert.deepEqual(h.lastGood('28-a'), { t: now, v: 21 });
});

test('history: the last hour raw, older readings as 1-minute min/mean/max; the same memory at 1 s and at 60 s', T, () => {
  const start = 1_800_000_000_000;
  const bytes: number[] = [];
  for (const interval of [1_000, 60_000]) {
    const h = new History();
    for (let t = start; t <= start + 25 * H; t += interval) h.record('28-a', interval, t, 20 + ((t / interval) % 3));
    bytes.push(h.bytesFor('28-a'));
    const now = start + 25 * H;
    const { t } = h.columns('28-a', now);
    // A point a minute before the last hour, then every raw reading of the hour.
    assert.ok(t.length <= 1381 + 3601, `${t.length} points at ${interval} ms`);
    assert.equal(t.at(-1), now);
    assert.ok((t[0] ?? 0) >= now - HISTORY_WINDOW_MS);
    assert.ok(h.chart('28-a', now).t.length <= 720);
  }
  for (const b of bytes) assert.ok(b <= 64 * 1024, `${b} bytes`);
  // At 1 s, a minute's bucket holds 60 readings of 20, 21, 22: min 20, mean 21, max 22.
  const h = new History();
  for (let t = start; t < start + 2 * H; t += 1000) h.record('28-a', 1000, t, 20 + ((t / 1000) % 3));
  const saved = h.snapshot(start + 2 * H)['28-a'];
  assert.equal(saved?.v.length, 3601);
  assert.deepEqual([saved?.minutes?.min[0], saved?.minutes?.mean[0], saved?.minutes?.max[0]], [20, 21, 22]);
  assert.equal(saved?.minutes?.t0, start + 59_000);
  // A minute of only failed reads is a gap, not a zero.
  const gaps = new History();
  for (let t = start; t < start + 2 * H; t += 30_000) gaps.record('28-b', 30_000, t, t < start + 60_000 ? NaN : 19.5);
  const g = gaps.columns('28-b', start + 2 * H);
  assert.deepEqual([g.v[0], g.v[1]], [null, 19.5]);
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

test('history: minutes and raw points survive a restart; a version 1 day of raw points folds into minutes as it loads', T, () => {
  const now = 1_800_000_000_000;
  const a = new History();
  for (let t = now - 3 * H; t <= now; t += 10_000) a.record('28-a', 10_000, t, t % 70_000 === 0 ? NaN : 20 + (t % 7));
  const saved = a.snapshot(now);
  assert.equal(saved['28-a']?.minutes?.dt.length, 120);
  const b = new History();
  assert.equal(b.restore(saved, now), 120 + 361);
  assert.deepEqual(b.columns('28-a', now), a.columns('28-a', now));
  assert.deepEqual(b.chart('28-a', now), a.chart('28-a', now));
  // Version 1: a day at 5 s, every point raw; it loads as an hour raw and the rest by minute.
  const points = 17_280;
  const v1 = { intervalMs: 5000, t0: now - points * 5000, dt: Array.from({ length: points + 1 }, (_, i) => (i === 0 ? 0 : 5000)), v: Array.from({ length: points + 1 }, () => 21) };
  const c = new History();
  assert.equal(c.restore({ '28-a': v1 }, now), points + 1);
  const cols = c.columns('28-a', now);
  assert.equal(cols.t.length, 23 * 60 + 720 + 1);
  assert.ok(cols.v.every((x) => x === 21));
  assert.equal(c.snapshot(now)['28-a']?.v.length, 721);
});

test('history file: written once atomically, read back; garbage is kept aside, not overwritten', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-hist-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = historyPath(join(dir, 'state', 'nested'));
  assert.deepEqual(await loadHistoryFile(file), { kind: 'missing' });
  const sensors = { '28-a': { intervalMs: 30_000, t0: 1000, dt: [0, 30_000], v: [20.5, null] } };
  const saved = await saveHistoryFile(file, sensors, new Date(0));
  assert.deepEqual(saved, { bytes: (await stat(file)).size, sensors: 1 });
  // No sensors: nothing written, the last file kept.
  assert.equal(await saveHistoryFile(file, [], new Date(0)), undefined);
  assert.deepEqual(await loadHistoryFile(file), { kind: 'loaded', sensors });
  // Version 1 files (raw points only, as saved before minute buckets) still load.
  await writeFile(file, JSON.stringify({ format: 'w1mqtt-history', version: 1, savedAt: 'x', sensors }));
  assert.deepEqual(await loadHistoryFile(file), { kind: 'loaded', sensors });
  await saveHistoryFile(file, sensors, new Date(0));
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
