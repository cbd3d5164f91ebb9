import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeMessage, type QueuedMessage } from '../../src/mqtt/outbox-record.js';
import { SegmentStore } from '../../src/mqtt/outbox-store.js';

const message = (seq: number): QueuedMessage => ({ seq, at: seq, topic: 't', payload: `p${seq}`, qos: 1, retain: true, latest: false });

test('segments rotate by size, read back in order across files, and go once delivered', { timeout: 10_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new SegmentStore({ dir, segmentBytes: 500 });
  store.open(() => assert.fail('an empty directory has nothing queued'));
  for (let seq = 1; seq <= 60; seq += 3) store.append([seq, seq + 1, seq + 2].map((s) => ({ seq: s, line: encodeMessage(message(s)) })));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.queue'));
  assert.ok(files.length >= 4, `${files.length} segment files`);
  assert.equal(files[0], '0000000000000001.queue');
  const seen: number[] = [];
  for (let next = 1; ; ) {
    const batch = store.readFrom(next, 7);
    if (batch.length === 0) break;
    seen.push(...batch.map((m) => m.seq));
    next = (batch.at(-1)?.seq ?? 0) + 1;
  }
  assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i + 1));
  assert.equal(store.readFrom(1, 1)[0]?.size, encodeMessage(message(1)).length);

  store.markDone(30);
  const removed = store.compact(30);
  assert.ok(removed >= 2);
  const first = store.readFrom(1, 1)[0]?.seq ?? 0;
  assert.ok(first > 1 && first <= 31, `the segment holding seq 31 stays (starts at ${first})`);
  store.close();
  assert.deepEqual((await readdir(dir)).includes('lock'), false, 'the lock goes with a clean close');

  const again = new SegmentStore({ dir, segmentBytes: 500 });
  const pending: number[] = [];
  const report = again.open((m) => pending.push(m.seq));
  assert.equal(report.doneThrough, 30);
  assert.deepEqual(pending, Array.from({ length: 30 }, (_, i) => 31 + i), 'only what was not done');
  assert.equal(again.lastSeq, 60);
  again.append([{ seq: 61, line: encodeMessage(message(61)) }]);
  assert.ok((await readdir(dir)).includes('0000000000000061.queue'), 'a new run appends to a new file, never to an old one');
  again.compact(61);
  assert.deepEqual((await readdir(dir)).sort(), ['lock'], 'all delivered: segments and the done file are gone');
  again.close();
});

test('the done file is rewritten in place when it grows, keeping the newest mark', { timeout: 10_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new SegmentStore({ dir });
  store.open(() => undefined);
  store.append(Array.from({ length: 5000 }, (_, i) => ({ seq: i + 1, line: encodeMessage(message(i + 1)) })));
  for (let seq = 1; seq < 4000; seq++) store.markDone(seq);
  store.sync();
  assert.ok((await stat(join(dir, 'done'))).size <= 64 * 1024);
  store.close();
  const again = new SegmentStore({ dir });
  assert.equal(again.open(() => undefined).doneThrough, 3999);
  assert.match(await readFile(join(dir, 'done'), 'utf8'), /"d":3999/);
  again.close();
});
