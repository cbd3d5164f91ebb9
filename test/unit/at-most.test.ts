import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atMost, settledWithin } from '../../src/system/at-most.js';

const never = new Promise<never>(() => {});

// An hour-long bound that stayed armed would keep this file's process alive: the runner's timeout would fail it.
test('atMost: the value when it comes first, and the timer does not outlive it', async () => {
  assert.equal(await atMost(Promise.resolve(42), 3_600_000), 42);
});

test('atMost: timeout when nothing settles in time', async () => {
  assert.equal(await atMost(never, 5), 'timeout');
});

test('atMost: a rejection that comes first rejects', async () => {
  await assert.rejects(atMost(Promise.reject(new Error('gone')), 3_600_000), /gone/);
});

test('settledWithin: done, failed or timeout; never rejects', async () => {
  assert.equal(await settledWithin(Promise.resolve('x'), 3_600_000), 'done');
  assert.equal(await settledWithin(Promise.reject(new Error('refused')), 3_600_000), 'failed');
  assert.equal(await settledWithin(never, 5), 'timeout');
});
