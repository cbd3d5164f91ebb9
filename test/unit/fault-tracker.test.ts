import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { FaultTracker } from '../../src/health/fault-tracker.js';

function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

test('a recurring fault is logged when it starts, when it changes and when it clears', () => {
  const { lines, log } = memoryLog();
  const f = new FaultTracker(log);
  for (let i = 0; i < 5; i++) f.failure('28-a', { code: 'empty_read' }, 1000 + i);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.['code'], 'empty_read');
  f.failure('28-a', { code: 'power_on_reset', milli: 85_000 }, 2000);
  assert.equal(lines.length, 2);
  assert.equal(lines[1]?.['previous'], 'empty_read');
  assert.equal(f.health('28-a').fault?.code, 'power_on_reset');
  f.success('28-a', 5000);
  f.success('28-a', 6000);
  assert.equal(lines.length, 3);
  assert.equal(lines[2]?.['msg'], 'sensor recovered');
  assert.equal(lines[2]?.['durationMs'], 3000);
  assert.deepEqual(f.health('28-a'), { ok: 2, failed: 6 });
  assert.deepEqual(f.totals(), { empty_read: 5, power_on_reset: 1 });
});
