import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeMessage, type QueuedMessage } from '../../src/outbox/record.js';
import { SegmentStore } from '../../src/outbox/store.js';
import { memoryLog } from '../helpers/memory-log.js';

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
    const batch = store.readFrom(next, 7) ?? assert.fail('every segment is readable');
    if (batch.length === 0) break;
    seen.push(...batch.map((m) => m.seq));
    next = (batch.at(-1)?.seq ?? 0) + 1;
  }
  assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i + 1));
  assert.equal(store.readFrom(1, 1)?.[0]?.size, encodeMessage(message(1)).length);

  store.markDone(30);
  const removed = store.compact(30);
  assert.ok(removed >= 2);
  const first = store.readFrom(1, 1)?.[0]?.seq ?? 0;
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

test('a read error that passes (EIO, EMFILE, here EISDIR) keeps the file, is logged once, and reading works again later', { timeout: 10_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { log, find } = memoryLog();
  const store = new SegmentStore({ dir, segmentBytes: 500, log });
  store.open(() => undefined);
  for (let seq = 1; seq <= 20; seq++) store.append([{ seq, line: encodeMessage(message(seq)) }]);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.queue')).sort();
  assert.ok(files.length >= 2, `${files.length} segment files`);
  const file = join(dir, files[0] ?? '');
  // The first file cannot be read for a while: its name is a directory.
  await rename(file, `${file}.away`);
  await mkdir(file);
  for (let i = 0; i < 3; i++) assert.equal(store.readFrom(1, 5), undefined, 'nothing after it goes first: the caller waits');
  assert.deepEqual(store.takeLost(), [], 'not counted as lost');
  assert.equal(find('cannot read an outbox file: keeping it, trying again').length, 1, 'logged once');
  await rm(file, { recursive: true });
  await rename(`${file}.away`, file);
  assert.deepEqual(store.readFrom(1, 3)?.map((m) => m.seq), [1, 2, 3], 'read again once it works');
  assert.equal(find('outbox file readable again')[0]?.['failedReads'], 3);
  await rm(file);
  assert.deepEqual(store.readFrom(1, 1)?.map((m) => m.seq), [1], 'still cached');
  store.close();
});

test('a queue file that is gone (ENOENT) is reported as lost and reading goes on with the next', { timeout: 10_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new SegmentStore({ dir, segmentBytes: 500 });
  store.open(() => undefined);
  for (let seq = 1; seq <= 20; seq++) store.append([{ seq, line: encodeMessage(message(seq)) }]);
  const [first, second] = (await readdir(dir)).filter((f) => f.endsWith('.queue')).sort();
  await rm(join(dir, first ?? ''));
  assert.equal(store.readFrom(1, 1)?.[0]?.seq, Number(second?.slice(0, 16)));
  assert.equal(store.takeLost().length, 1);
  store.close();
});
