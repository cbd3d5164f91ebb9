import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Outbox, type OutboxLink, type OutboxOptions, type OutgoingMessage } from '../../src/outbox/outbox.js';
import { memoryLog } from '../helpers/memory-log.js';
import { until } from '../helpers/until.js';

const T = { timeout: 20_000 };

/** An in-process stand-in for the MQTT client: records publishes, acknowledges on demand or at once. */
class FakeLink implements OutboxLink {
  connected = false;
  receiveMaximum: number | undefined;
  autoAck = true;
  /** Topics the broker refuses, with the MQTT 5 reason code it answers (as MQTT.js reports it: the error's `code`). */
  readonly refuseTopics = new Map<string, number>();
  readonly events = new EventEmitter<{ up: []; down: [] }>();
  readonly sent: { topic: string; payload: string; ack: () => void; refuse: () => void }[] = [];
  readonly delivered: string[] = [];

  send(topic: string, payload: string, _opts: unknown, done: (err: Error | undefined) => void): void {
    this.#publish(topic, payload).then(() => done(undefined), (err: Error) => done(err));
  }
  #publish(topic: string, payload: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ack = (): void => {
        this.delivered.push(payload);
        resolve();
      };
      this.sent.push({ topic, payload, ack, refuse: () => reject(new Error('Connection closed')) });
      const code = this.refuseTopics.get(topic);
      if (code !== undefined) setImmediate(() => reject(Object.assign(new Error('Publish error: Not authorized'), { code })));
      else if (this.autoAck) setImmediate(ack);
    });
  }
  up(): void {
    this.connected = true;
    this.events.emit('up');
  }
  down(): void {
    this.connected = false;
    this.events.emit('down');
  }
}

async function setup(t: TestContext, opts: Partial<OutboxOptions> = {}, dir?: string) {
  const base = dir ?? (await mkdtemp(join(tmpdir(), 'w1mqtt-outbox-')));
  if (!dir) t.after(() => rm(base, { recursive: true, force: true }));
  const link = new FakeLink();
  const { log, find } = memoryLog();
  const clock = countedClock(opts.now ?? Date.now);
  const outbox = new Outbox({ link, dir: join(base, 'outbox'), maxMessages: 1000, maxBytes: 1e6, log, tickMs: 20, ...opts, now: clock.now });
  outbox.start();
  t.after(() => outbox.stop());
  return { base, dir: join(base, 'outbox'), link, outbox, find, ticks: clock.ticks };
}

/**
 * The outbox's clock, counting how often it is read. A housekeeping tick reads it at least
 * once (the fsync check) and at most three times (the age of the messages waiting, the end
 * of an episode); while messages wait but none is queued, sent or acknowledged nothing else
 * reads it. So, in such a quiet moment, `ticks(n)` waits for at least n ticks without timing
 * them. (With nothing waiting at all housekeeping sleeps: `stats().idle`.)
 */
function countedClock(now: () => number): { now: () => number; ticks(n: number): Promise<void> } {
  let reads = 0;
  return {
    now: () => {
      reads++;
      return now();
    },
    ticks(n) {
      const target = reads + 3 * n;
      return until(`${n} housekeeping ticks`, () => reads >= target);
    },
  };
}

const msg = (payload: string, topic = 'home/a/temperature', latest = false): OutgoingMessage => ({ topic, payload, qos: 1, retain: true, latest });

async function queueFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.queue'));
}

test('a healthy broker: everything delivered in order, nothing written to disk', T, async (t) => {
  const { dir, link, outbox } = await setup(t);
  link.up();
  for (let i = 0; i < 200; i++) outbox.enqueue(msg(String(i)));
  await until('all delivered', () => link.delivered.length === 200);
  await until('housekeeping asleep once the queue is empty', () => outbox.stats().idle);
  assert.deepEqual(link.delivered, Array.from({ length: 200 }, (_, i) => String(i)));
  assert.deepEqual(await readdir(dir), ['lock'], 'no queue file, no done file');
  assert.equal(outbox.stats().written, 0);
  // The next message wakes it: queued, delivered, asleep again.
  outbox.enqueue(msg('200'));
  assert.equal(outbox.stats().idle, false);
  await until('delivered', () => link.delivered.length === 201);
  await until('asleep again', () => outbox.stats().idle);
});

test('broker down: each message is on disk before enqueue() returns, delivered in order once it is back, then the files go', T, async (t) => {
  const { dir, link, outbox, find } = await setup(t);
  for (let i = 0; i < 10; i++) {
    outbox.enqueue(msg(String(i)));
    const [file] = await queueFiles(dir);
    assert.ok(file);
    assert.equal((await readFile(join(dir, file), 'utf8')).trim().split('\n').length, i + 1);
  }
  assert.equal(find('broker not acknowledging: queueing readings on disk').length, 1);
  link.up();
  await until('all delivered', () => link.delivered.length === 10);
  assert.deepEqual(link.delivered, Array.from({ length: 10 }, (_, i) => String(i)));
  await until('the files to be deleted', async () => (await queueFiles(dir)).length === 0);
  await until('the episode summary', () => find('outbox delivered: queue empty').length === 1);
  assert.equal(find('outbox delivered: queue empty')[0]?.['delivered'], 10);
});

test('messages queued close together go out together, a window at a time', T, async (t) => {
  const { link, outbox, ticks } = await setup(t, { window: 8, flushMs: 30 });
  link.autoAck = false;
  link.up();
  for (let i = 0; i < 5; i++) outbox.enqueue(msg(String(i)));
  assert.equal(link.sent.length, 0, 'held for flushMs');
  await until('sent', () => link.sent.length > 0);
  assert.equal(link.sent.length, 5, 'all five in one pump');
  for (let i = 5; i < 20; i++) outbox.enqueue(msg(String(i)));
  await until('the window filled', () => link.sent.length >= 8);
  await ticks(2); // each one pumps
  assert.equal(link.sent.length, 8, 'never more than the window unacknowledged');
  for (const s of link.sent.slice(0, 8)) s.ack();
  await until('the next window', () => link.sent.length === 16);
  link.autoAck = true;
  for (const s of link.sent.slice(8)) s.ack();
  await until('all delivered', () => link.delivered.length === 20);
  assert.deepEqual(link.delivered, Array.from({ length: 20 }, (_, i) => String(i)));
});

test('a burst gathered for one write while connected drops nothing, even over max_messages', T, async (t) => {
  const { link, outbox } = await setup(t, { maxMessages: 5, flushMs: 30 });
  link.up();
  for (let i = 0; i < 12; i++) outbox.enqueue(msg(String(i)));
  await until('all delivered', () => link.delivered.length === 12);
  assert.equal(outbox.stats().dropped, 0);
  link.down();
  link.autoAck = false;
  for (let i = 12; i < 20; i++) outbox.enqueue(msg(String(i)));
  assert.equal(outbox.stats().queued, 5, 'while the broker is away the limit holds');
  assert.equal(outbox.stats().dropped, 3);
});

test('stop() sends what was gathered for the next write and waits for its acknowledgement', T, async (t) => {
  const { dir, link, outbox } = await setup(t, { flushMs: 10_000 });
  link.up();
  outbox.enqueue(msg('last'));
  assert.equal(link.sent.length, 0);
  await outbox.stop();
  assert.deepEqual(link.delivered, ['last']);
  assert.deepEqual(await queueFiles(dir), [], 'nothing left for the next run');
});

test('at most `window` unacknowledged at once, and no more than the broker Receive Maximum', T, async (t) => {
  const { link, outbox } = await setup(t, { window: 8, flushMs: 0 });
  link.autoAck = false;
  link.up();
  for (let i = 0; i < 50; i++) outbox.enqueue(msg(String(i)));
  assert.equal(link.sent.length, 8);
  link.sent[0]?.ack();
  await until('one more sent', () => link.sent.length === 9);
  assert.equal(outbox.stats().inFlight, 8);

  const small = await setup(t, { window: 8, flushMs: 0 });
  small.link.autoAck = false;
  small.link.receiveMaximum = 3;
  small.link.up();
  for (let i = 0; i < 10; i++) small.outbox.enqueue(msg(String(i)));
  assert.equal(small.link.sent.length, 3);
});

test('after a stop or a crash the next run delivers what was queued, continuing the sequence', T, async (t) => {
  const first = await setup(t);
  for (let i = 0; i < 20; i++) first.outbox.enqueue(msg(`a${i}`));
  await first.outbox.stop();
  // A crash: this one is never stopped, its lock stays behind.
  const crashed = new Outbox({ link: new FakeLink(), dir: first.dir, maxMessages: 1000, maxBytes: 1e6, log: memoryLog().log });
  crashed.start();
  for (let i = 20; i < 25; i++) crashed.enqueue(msg(`a${i}`));

  const next = await setup(t, {}, first.base);
  assert.equal(next.find('outbox holds readings from an earlier run: delivering them first')[0]?.['queued'], 25);
  next.outbox.enqueue(msg('b'));
  next.link.up();
  await until('all delivered', () => next.link.delivered.length === 26);
  assert.deepEqual(next.link.delivered, [...Array.from({ length: 25 }, (_, i) => `a${i}`), 'b']);
});

test('delivery progress is marked, so a crash mid-drain resends only the unmarked tail', T, async (t) => {
  const first = await setup(t);
  for (let i = 0; i < 300; i++) first.outbox.enqueue(msg(String(i)));
  first.link.autoAck = false;
  first.link.up();
  for (let acked = 0; acked < 150; acked++) {
    await until('a publish to acknowledge', () => first.link.sent.length > acked);
    first.link.sent[acked]?.ack();
  }
  // Wait for the mark, then crash (no stop).
  await until('a delivered mark at 100 or beyond', async () => {
    const marks = [...(await readFile(join(first.dir, 'done'), 'utf8').catch(() => '')).matchAll(/"d":(\d+)/g)].map((m) => Number(m[1]));
    return Math.max(0, ...marks) >= 100;
  });
  const next = await setup(t, {}, first.base);
  next.link.up();
  await until('the rest delivered', () => next.link.delivered.includes('299'));
  const again = next.link.delivered.map(Number);
  assert.deepEqual(again, Array.from({ length: again.length }, (_, i) => 300 - again.length + i), 'in order, no gap');
  assert.ok(again.length >= 150 && again.length <= 150 + 100, `resent ${again.length}: at most one mark interval is repeated`);
});

test('queue: latest keeps only the newest waiting message per topic, sent before the all backlog; all keeps every one, in order', T, async (t) => {
  const { link, outbox } = await setup(t, { window: 2, flushMs: 0 });
  for (let i = 0; i < 5; i++) {
    outbox.enqueue(msg(`L${i}`, 'home/plain/temperature', true));
    outbox.enqueue(msg(`A${i}`, 'home/json/temperature', false));
    outbox.enqueue(msg(i % 2 ? 'offline' : 'online', 'home/plain/availability', true));
  }
  link.up();
  await until('delivered', () => link.delivered.length === 7);
  assert.deepEqual(link.delivered, ['L4', 'online', 'A0', 'A1', 'A2', 'A3', 'A4'], 'the newest latest ones first, then the backlog in order');
  // Newer latest messages arriving during a long backlog still jump it.
  link.autoAck = false;
  for (let i = 5; i < 10; i++) outbox.enqueue(msg(`A${i}`, 'home/json/temperature', false));
  outbox.enqueue(msg('L5', 'home/plain/temperature', true));
  outbox.enqueue(msg('L6', 'home/plain/temperature', true));
  assert.deepEqual(link.sent.slice(-2).map((s) => s.payload), ['A5', 'A6']);
  link.autoAck = true;
  for (const s of link.sent.slice(-2)) s.ack();
  await until('delivered', () => link.delivered.length === 13);
  await until('housekeeping asleep', () => outbox.stats().idle);
  assert.deepEqual(link.delivered.slice(7), ['A5', 'A6', 'L6', 'A7', 'A8', 'A9'], 'L5 superseded by L6, which goes before A7');
  assert.equal(outbox.stats().superseded, 9);
  assert.equal(outbox.stats().dropped, 0);
});

test('max_messages: the oldest are dropped and counted, the newest kept; logged when dropping starts and stops', T, async (t) => {
  const { link, outbox, find } = await setup(t, { maxMessages: 10 });
  for (let i = 0; i < 25; i++) outbox.enqueue(msg(String(i)));
  assert.deepEqual(outbox.stats().queued, 10);
  assert.deepEqual(outbox.stats().dropped, 15);
  assert.equal(find('outbox full: dropping the oldest queued readings').length, 1);
  link.up();
  await until('delivered', () => link.delivered.length === 10);
  assert.deepEqual(link.delivered, Array.from({ length: 10 }, (_, i) => String(15 + i)));
  outbox.enqueue(msg('after'));
  const stopped = find('outbox no longer full: stopped dropping readings');
  assert.equal(stopped.length, 1);
  assert.equal(stopped[0]?.['dropped'], 15);
});

test('max_bytes counts the bytes on disk: the oldest dropped beyond it', T, async (t) => {
  const { link, outbox } = await setup(t, { maxBytes: 1000 });
  const payload = 'x'.repeat(150);
  for (let i = 0; i < 20; i++) outbox.enqueue(msg(`${String(i).padStart(2, '0')}${payload}`));
  const { queued, bytes, dropped } = outbox.stats();
  assert.ok(bytes <= 1000, `${bytes} bytes queued`);
  assert.equal(queued + dropped, 20);
  assert.ok(queued >= 4 && queued <= 5, `${queued} queued`);
  link.up();
  await until('delivered', () => link.delivered.length === queued);
  assert.deepEqual(link.delivered.map((p) => Number(p.slice(0, 2))), Array.from({ length: queued }, (_, i) => 20 - queued + i));
});

test('a truncated and bit-flipped queue file is recovered up to every whole record', T, async (t) => {
  const first = await setup(t);
  for (let i = 0; i < 10; i++) first.outbox.enqueue(msg(`r${i}`));
  const [name] = await queueFiles(first.dir);
  assert.ok(name);
  const file = join(first.dir, name);
  const lines = (await readFile(file, 'utf8')).split('\n');
  lines[2] = (lines[2] ?? '').replace('r2', 'r9'); // same length, wrong CRC
  await writeFile(file, lines.join('\n'));
  const size = (await readFile(file)).length;
  await truncate(file, size - 7); // a power cut in the middle of the last record
  const next = await setup(t, {}, first.base);
  const damage = next.find(/outbox file damaged/)[0];
  assert.equal(damage?.['recovered'], 8);
  assert.equal(damage?.['corrupt'], 1);
  assert.ok(Number(damage?.['tornBytes']) > 0);
  next.link.up();
  await until('delivered', () => next.link.delivered.length === 8);
  assert.deepEqual(next.link.delivered, ['r0', 'r1', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8']);
});

test('a queue file of pure garbage is reported and set aside, never a crash', T, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'w1mqtt-outbox-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(base, 'outbox'));
  await writeFile(join(base, 'outbox', '0000000000000001.queue'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  await writeFile(join(base, 'outbox', 'done'), 'not a mark\n');
  const { link, outbox, find } = await setup(t, {}, base);
  assert.equal(find(/outbox file damaged/)[0]?.['recovered'], 0);
  link.up();
  outbox.enqueue(msg('fresh'));
  await until('delivered', () => link.delivered.length === 1);
  assert.deepEqual(link.delivered, ['fresh']);
});

test('an unusable directory or one locked by a live agent: the queue lives in memory, with an error', T, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'w1mqtt-outbox-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await writeFile(join(base, 'file'), 'not a directory');
  const blocked = await setup(t, {}, join(base, 'file'));
  const error = blocked.find('cannot use the outbox directory: queueing in memory only (lost on restart)')[0];
  assert.match(String(error?.['err']), /ENOTDIR|EEXIST/);
  blocked.outbox.enqueue(msg('m1'));
  blocked.link.up();
  await until('delivered from memory', () => blocked.link.delivered.length === 1);

  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(base, 'locked', 'outbox'), { recursive: true });
  await writeFile(join(base, 'locked', 'outbox', 'lock'), `${holder.pid} ${bootId}\n`);
  const locked = await setup(t, {}, join(base, 'locked'));
  assert.match(String(locked.find(/cannot use the outbox directory/)[0]?.['err']), new RegExp(`another w1mqtt \\(pid ${holder.pid}\\)`));
  assert.equal(locked.outbox.stats().dir, undefined);
});

test('acknowledgements that take longer than spillAfterMs send the waiting messages to disk', T, async (t) => {
  const { dir, link, outbox, find } = await setup(t, { spillAfterMs: 0 });
  link.autoAck = false;
  link.up();
  for (let i = 0; i < 3; i++) outbox.enqueue(msg(String(i)));
  await until('a queue file', async () => (await queueFiles(dir)).length === 1);
  assert.equal(find('broker not acknowledging: queueing readings on disk')[0]?.['connected'], true);
  for (const s of link.sent) s.ack();
  await until('the file deleted once acknowledged', async () => (await queueFiles(dir)).length === 0);
  assert.deepEqual(link.delivered, ['0', '1', '2']);
});

test('a publish the client refused is sent again before anything newer', T, async (t) => {
  const { link, outbox } = await setup(t, { flushMs: 0 });
  link.autoAck = false;
  link.up();
  outbox.enqueue(msg('0'));
  link.sent[0]?.refuse();
  link.autoAck = true; // for what is sent from now on: the resend, and the one below
  await until('the refusal handled', () => outbox.stats().inFlight === 0);
  outbox.enqueue(msg('1'));
  await until('all delivered', () => link.delivered.length === 2);
  assert.deepEqual(link.delivered, ['0', '1'], 'the refused one goes again, before anything newer');
});

test('a new connection (live reload) sends what the old one had in flight first, in order; the old one is not listened to', T, async (t) => {
  const { link: old, outbox, find } = await setup(t, { flushMs: 0 });
  old.autoAck = false;
  old.up();
  outbox.enqueue(msg('0'));
  outbox.enqueue(msg('1'));
  assert.equal(old.sent.length, 2);
  const next = new FakeLink();
  next.up();
  outbox.setLink(next);
  outbox.enqueue(msg('2'));
  // The old connection stops: it refuses what it still held, acknowledges one late.
  old.sent[0]?.refuse();
  old.sent[1]?.ack();
  await until('all delivered', () => next.delivered.length === 3);
  await until('housekeeping asleep', () => outbox.stats().idle);
  assert.deepEqual(next.delivered, ['0', '1', '2'], 'order kept across the new connection');
  assert.equal(outbox.stats().delivered, 3);
  assert.equal(outbox.stats().queued, 0);
  assert.equal(find('publish refused: will resend').length, 0, 'the old connection\'s answers are ignored');
});

test('a publish the broker refuses with a reason code (MQTT 5 PUBACK 0x87) is rejected once, counted, never retried, and does not hold back the files', T, async (t) => {
  const { dir, link, outbox, find } = await setup(t);
  link.refuseTopics.set('home/denied/temperature', 0x87);
  outbox.enqueue(msg('a0'));
  outbox.enqueue(msg('d0', 'home/denied/temperature'));
  outbox.enqueue(msg('a1'));
  outbox.enqueue(msg('d1', 'home/denied/temperature'));
  assert.equal((await queueFiles(dir)).length, 1, 'queued on disk while down');
  link.up();
  await until('the others delivered', () => link.delivered.length === 2);
  await until('the files deleted: the refusals do not pin the delivered mark', async () => (await queueFiles(dir)).length === 0);
  await until('housekeeping asleep: nothing left that could be sent again', () => outbox.stats().idle);
  assert.deepEqual(link.delivered, ['a0', 'a1']);
  assert.deepEqual(link.sent.filter((s) => s.topic === 'home/denied/temperature').map((s) => s.payload), ['d0', 'd1'], 'each sent once');
  assert.equal(outbox.stats().rejected, 2);
  assert.equal(outbox.stats().queued, 0);
  const started = find(/broker refused a publish/);
  assert.equal(started.length, 1, 'logged once for the episode');
  assert.deepEqual([started[0]?.['topic'], started[0]?.['reasonCode']], ['home/denied/temperature', '0x87']);
  // The broker's ACL is fixed: the next one on that topic goes through, and the episode ends with its count.
  link.refuseTopics.clear();
  outbox.enqueue(msg('d2', 'home/denied/temperature'));
  await until('the episode end', () => find('broker accepts publishes on this topic again').length === 1);
  assert.equal(find('broker accepts publishes on this topic again')[0]?.['rejected'], 2);
});

test('spill window: a message unacknowledged for 1 s (by default) is on disk, younger ones are not', T, async (t) => {
  let now = 1_000_000;
  const { dir, link, outbox, ticks } = await setup(t, { now: () => now });
  link.autoAck = false;
  link.up();
  outbox.enqueue(msg('0'));
  now += 500;
  outbox.enqueue(msg('1'));
  now += 490;
  await ticks(2);
  assert.deepEqual(await queueFiles(dir), [], 'under 1 s: nothing written');
  now += 20;
  await until('the first message on disk', async () => (await queueFiles(dir)).length === 1);
  const [file] = await queueFiles(dir);
  assert.equal((await readFile(join(dir, file ?? ''), 'utf8')).trim().split('\n').length, 1, 'only the one older than 1 s');
  now += 500;
  await until('the second one too', async () => (await readFile(join(dir, file ?? ''), 'utf8')).trim().split('\n').length === 2);
});

test('a disk that cannot be written: memory holds at most memoryMaxMessages, the oldest dropped, counted and logged', T, async (t) => {
  const { dir, link, outbox, find } = await setup(t, { memoryMaxMessages: 20 });
  await rm(dir, { recursive: true }); // every write fails from now on (ENOENT)
  for (let i = 0; i < 50; i++) outbox.enqueue(msg(String(i)));
  assert.equal(find('cannot write the outbox: keeping readings in memory until it works again').length, 1);
  const { queued, dropped } = outbox.stats();
  assert.ok(queued <= 21, `${queued} in memory`);
  assert.equal(queued + dropped, 50);
  assert.equal(find('outbox full: dropping the oldest queued readings').length, 1, 'dropping logged once');
  link.up();
  await until('the newest delivered', () => link.delivered.includes('49'));
  assert.deepEqual(link.delivered, Array.from({ length: queued }, (_, i) => String(50 - queued + i)), 'the newest kept, in order');
  await until('dropping over', () => find('outbox no longer full: stopped dropping readings').length === 1);
  assert.equal(find('outbox no longer full: stopped dropping readings')[0]?.['dropped'], dropped);
});
