import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readingFromOwfsText } from '../../src/sources/owfs-value.js';

test('trimmed (FUSE) and 12-column padded (owserver) values both parse', () => {
  assert.deepEqual(readingFromOwfsText('23.125'), { ok: true, milli: 23_125 });
  assert.deepEqual(readingFromOwfsText('      23.125'), { ok: true, milli: 23_125 });
  assert.deepEqual(readingFromOwfsText('     -10.125'), { ok: true, milli: -10_125 });
  assert.deepEqual(readingFromOwfsText('4'), { ok: true, milli: 4000 });
  assert.deepEqual(readingFromOwfsText('1E-05'), { ok: true, milli: 0 });
});

test('empty, garbage and out-of-range values are errors with their code', () => {
  assert.deepEqual(readingFromOwfsText(''), { ok: false, error: { code: 'empty_read' } });
  assert.equal(readingFromOwfsText('abc').ok, false);
  const hot = readingFromOwfsText('127.937');
  assert.ok(!hot.ok && hot.error.code === 'insufficient_power');
  const cold = readingFromOwfsText('-60');
  assert.ok(!cold.ok && cold.error.code === 'out_of_range');
});
