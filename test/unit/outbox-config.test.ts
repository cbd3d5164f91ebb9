import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { configSchema, queueMode } from '../../src/config/schema.js';
import { parseSize } from '../../src/config/size.js';

test('queue: json payloads default to all, plain ones to latest; a sensor may say otherwise', () => {
  const plain = configSchema.parse({ sensors: { '28-0316a2792dff': { queue: 'all' } } });
  const json = configSchema.parse({ mqtt: { payload: 'json' } });
  assert.equal(queueMode(plain, undefined), 'latest');
  assert.equal(queueMode(json, undefined), 'all');
  const entry = plain.sensors['28-0316a2792dff'];
  assert.ok(entry && typeof entry === 'object');
  assert.equal(queueMode(plain, entry), 'all');
  assert.equal(queueMode(json, { offset: 0, enabled: true, queue: 'latest' }), 'latest');
});

test('outbox limits, state_dir and unavailable_after: defaults, sizes, and located mistakes', () => {
  const d = configSchema.parse({});
  assert.deepEqual([d.outbox.max_messages, d.outbox.max_bytes, d.unavailable_after, d.state_dir], [500_000, 128 * 1024 * 1024, 3, undefined]);
  const ok = parseConfigText('state_dir: /srv/w1\noutbox:\n  max_bytes: 50MB\n  max_messages: 1000\nunavailable_after: 0\n', 'f.yaml');
  assert.ok(ok.ok);
  assert.deepEqual([ok.config.state_dir, ok.config.outbox.max_bytes, ok.config.outbox.max_messages, ok.config.unavailable_after], ['/srv/w1', 50e6, 1000, 0]);
  const bad = parseConfigText('outbox:\n  max_bytes: lots\n  max_mesages: 5\nsensors:\n  28-0316a2792dff: { topic: a/b, queue: newest }\n', 'f.yaml');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map(formatProblem), [
    'f.yaml:2:14 outbox.max_bytes: not a size of at least 64KiB: "lots" (use e.g. 50MB, 512MiB, or bytes)',
    'f.yaml:3:3 outbox.max_mesages: unknown key "max_mesages" (did you mean "max_messages"?)',
    'f.yaml:5:41 sensors.28-0316a2792dff.queue: Invalid option: expected one of "all"|"latest"',
  ]);
});

test('sizes: decimal and binary units, plain bytes; nonsense refused', () => {
  assert.equal(parseSize('50MB'), 50_000_000);
  assert.equal(parseSize('512 KiB'), 524_288);
  assert.equal(parseSize('1.5GiB'), 1_610_612_736);
  assert.equal(parseSize(65536), 65536);
  assert.equal(parseSize('65536'), 65536);
  for (const bad of ['', 'MB', '5 parsecs', '-1MB', 1.5, -1]) assert.equal(parseSize(bad), undefined, String(bad));
});
