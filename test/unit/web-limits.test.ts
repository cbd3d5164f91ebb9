import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { AuthThrottle } from '../../src/web/auth-throttle.js';
import { EventHub } from '../../src/web/events.js';
import { History } from '../../src/web/history.js';

/** The page's limits as pure parts: wrong-password waits, event-stream drops, chart-sized history. */

test('wrong passwords: 5 free, then waits doubling to a minute; a right one clears; addresses are bounded', () => {
  let now = 0;
  const throttle = new AuthThrottle({ now: () => now, maxAddresses: 3 });
  for (let i = 1; i <= 4; i++) assert.equal(throttle.failed('10.0.0.1'), i);
  assert.equal(throttle.waitMs('10.0.0.1'), 0);
  throttle.failed('10.0.0.1');
  assert.equal(throttle.waitMs('10.0.0.1'), 1_000);
  throttle.failed('10.0.0.1');
  assert.equal(throttle.waitMs('10.0.0.1'), 2_000);
  for (let i = 0; i < 20; i++) throttle.failed('10.0.0.1');
  assert.equal(throttle.waitMs('10.0.0.1'), 60_000);
  now += 60_000;
  assert.equal(throttle.waitMs('10.0.0.1'), 0);
  assert.equal(throttle.waitMs('10.0.0.2'), 0, 'another address is not affected');
  throttle.succeeded('10.0.0.1');
  assert.equal(throttle.failed('10.0.0.1'), 1);
  for (const a of ['a', 'b', 'c']) throttle.failed(a);
  assert.equal(throttle.failed('10.0.0.1'), 1, 'the oldest address was forgotten');
});

/** A stand-in for a response whose socket takes nothing once `stuck`. */
class FakeResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  stuck = false;
  readonly socket = { setTimeout: () => undefined };
  writeHead(): this {
    return this;
  }
  write(text: string): boolean {
    if (this.stuck) this.writableLength += text.length;
    return !this.stuck || this.writableLength < 16_384;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

test('an event stream that does not read is dropped before its buffer passes the limit, or after stalling', () => {
  let now = 0;
  const drops: string[] = [];
  const hub = new EventHub({ maxBufferedBytes: 100_000, stallMs: 30_000, now: () => now, heartbeatMs: 3_600_000, onDrop: (reason) => drops.push(reason) });
  const full = new FakeResponse();
  const reading = new FakeResponse();
  for (const r of [full, reading]) hub.add(r as unknown as ServerResponse, {}, { event: 'snapshot', data: { big: 'x'.repeat(50_000) } });
  full.stuck = true;
  for (let i = 0; i < 4; i++) hub.send('sensor', { pad: 'y'.repeat(30_000) });
  assert.equal(full.destroyed, true, 'dropped at the buffer limit');
  assert.ok(full.writableLength <= 100_000, `${full.writableLength} bytes buffered`);
  assert.equal(reading.destroyed, false);
  hub.close();

  const slow = new EventHub({ maxBufferedBytes: 10_000_000, stallMs: 30_000, now: () => now, heartbeatMs: 3_600_000, onDrop: (reason) => drops.push(reason) });
  const s = new FakeResponse();
  slow.add(s as unknown as ServerResponse, {}, { event: 'snapshot', data: {} });
  s.stuck = true;
  slow.send('sensor', { pad: 'z'.repeat(20_000) });
  now += 31_000;
  slow.send('sensor', { n: 1 });
  assert.equal(s.destroyed, true, 'dropped after stalling');
  assert.deepEqual(drops, ['buffer', 'stalled']);
  slow.close();
});

test('the hub tells how many pages are open as they open and close, and a drop counts as a close', () => {
  const counts: number[] = [];
  const hub = new EventHub({ maxBufferedBytes: 1_000, heartbeatMs: 3_600_000, onClients: (n) => counts.push(n) });
  const a = new FakeResponse();
  const b = new FakeResponse();
  for (const r of [a, b]) hub.add(r as unknown as ServerResponse, {}, { event: 'snapshot', data: {} });
  a.emit('close');
  a.emit('close'); // a second close of the same stream is not another page gone
  b.stuck = true;
  hub.send('sensor', { pad: 'x'.repeat(20_000) });
  hub.send('sensor', { pad: 'x'.repeat(20_000) });
  assert.equal(b.destroyed, true, 'dropped at the buffer limit');
  assert.deepEqual(counts, [1, 2, 1, 0]);
  hub.close();
});

test('chart-sized history: a day at 5 s comes out as 720 points, averaged, ending on the newest', () => {
  const h = new History();
  const now = 1_800_000_000_000;
  for (let i = 17_280; i >= 0; i--) h.record('28-a', 5_000, now - i * 5_000, i % 100 === 0 ? NaN : 20);
  const { t, v } = h.chart('28-a', now);
  assert.equal(t.length, 720);
  assert.equal(t.at(-1), now);
  assert.ok(v.every((x) => x === 20));
  const few = new History();
  few.record('28-b', 30_000, now, 21);
  assert.deepEqual(few.chart('28-b', now), { t: [now], v: [21] });
});
