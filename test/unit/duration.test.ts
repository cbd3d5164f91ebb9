import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

test('durations as users write them', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('45'), 45_000);
  assert.equal(parseDuration(10), 10_000);
  assert.equal(parseDuration(2.5), 2500);
});

test('anything else is not a duration', () => {
  for (const bad of ['fast', '', '10 s', '5x', 's', '1m-3s', '-5']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(parseDuration(-1), undefined);
  assert.equal(parseDuration(Number.NaN), undefined);
});

test('formatDuration picks the largest whole unit', () => {
  assert.equal(formatDuration(30_000), '30s');
  assert.equal(formatDuration(300_000), '5m');
  assert.equal(formatDuration(7_200_000), '2h');
  assert.equal(formatDuration(1500), '1500ms');
});
