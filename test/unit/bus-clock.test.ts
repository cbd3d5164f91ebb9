import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusModel, type Timer } from '../../src/sim/bus-model.js';

/**
 * The simulator's bus clock (src/sim/TIMING.md "The bus clock"): a transaction starts at
 * max(arrival, end of the one before) and ends its cost later, whatever this process's own
 * delays. Driven by a hand-advanced timer: every deadline asked for is recorded, and time
 * moves only when the test says so.
 */

const A = '28-000000010001';
const B = '28-000000010002';

class HandTimer implements Timer {
  t = 0;
  readonly deadlines: number[] = [];
  readonly #waiting: { deadline: number; resolve: () => void }[] = [];
  now(): number {
    return this.t;
  }
  until(deadline: number): Promise<void> {
    this.deadlines.push(deadline);
    if (deadline <= this.t) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ deadline, resolve }));
  }
  /** Move to `t` and wake whatever is due by then. */
  async advance(t: number): Promise<void> {
    this.t = t;
    for (const w of this.#waiting.filter((x) => x.deadline <= t)) {
      this.#waiting.splice(this.#waiting.indexOf(w), 1);
      w.resolve();
    }
    for (let i = 0; i < 10; i++) await Promise.resolve(); // let the woken transactions run on
  }
}

function bus(timer: HandTimer): BusModel {
  const model = new BusModel('w1_bus_master1', timer, 12);
  for (const name of [A, B]) model.sensors.set(name, { name, family: '28', resolution: 9, milli: 21_000, external: true, convertTriggered: 0, latched: 0, fault: undefined, reads: 0 });
  return model;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

test('a read costs conv_time + t_read from its arrival, not from when the simulator got round to it', { timeout: 10_000 }, async () => {
  const timer = new HandTimer();
  const model = bus(timer);
  timer.t = 3; // the process looks at the read 3 ms after it arrived at 0
  const read = model.read(A, 'w1_slave', 0);
  await settle();
  assert.deepEqual(timer.deadlines, [95 + 12]);
  await timer.advance(107);
  assert.match(await read, /t=21000\n$/);
});

test('a read waiting for the bus starts when the previous transaction ends on the bus, even if its answer went out late', { timeout: 10_000 }, async () => {
  const timer = new HandTimer();
  const model = bus(timer);
  const first = model.read(A, 'w1_slave', 0);
  const second = model.read(B, 'w1_slave', 5); // queued behind the first
  await settle();
  assert.equal(model.queued, 2);
  assert.deepEqual(timer.deadlines, [107]);
  await timer.advance(110); // the first answer goes out 3 ms late
  await first;
  assert.deepEqual(timer.deadlines, [107, 107 + 107], 'the second starts at 107, not at 110');
  assert.ok(model.counters.lateMs >= 3);
  await timer.advance(214);
  await second;
  assert.equal(model.counters.busyMs, 214);

  // A read that comes after the bus went idle starts at its own arrival, never earlier.
  const third = model.read(A, 'w1_slave', 300);
  await settle();
  assert.equal(timer.deadlines.at(-1), 300 + 107);
  await timer.advance(407);
  await third;
});

test('a trigger seen with a read converts first; the read then costs t_read after the conversion', { timeout: 10_000 }, async () => {
  const timer = new HandTimer();
  const model = bus(timer);
  model.beforeRead = (arrival) => model.write('trigger\n', arrival);
  timer.t = 1;
  const read = model.read(A, 'w1_slave', 0);
  await settle();
  assert.deepEqual(timer.deadlines, [95], 'the conversion runs from the read that revealed the trigger');
  await timer.advance(95);
  await settle();
  assert.deepEqual(timer.deadlines, [95, 95 + 12]);
  model.beforeRead = () => {};
  await timer.advance(107);
  assert.match(await read, /t=21000\n$/);
  assert.equal(model.counters.bulkConversions, 1);
  assert.equal(model.counters.fastReads, 1);
});
