import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, loadConfigFile, parseConfigText } from '../../src/config/load.js';

const FIXTURES = new URL('../../fixtures/config/', import.meta.url).pathname;

test('the valid fixture parses with defaults filled in', async () => {
  const r = await loadConfigFile(`${FIXTURES}valid.yaml`);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.equal(r.config.mqtt.qos, 1);
  assert.equal(r.config.mqtt.base_topic, 'home');
  assert.ok(r.config.sources && r.config.sources.length > 0);
});

test('every schema problem is reported at once, each at its line and column', async () => {
  const r = await loadConfigFile(`${FIXTURES}broken-schema.yaml`);
  assert.ok(!r.ok);
  const lines = r.problems.map(formatProblem);
  const at = lines.map((l) => /:(\d+:\d+) /.exec(l)?.[1]);
  assert.deepEqual(at, ['4:8', '5:11', '9:5', '10:3'], lines.join('\n'));
  assert.match(lines[0] ?? '', /broken-schema\.yaml:4:8 mqtt\.qos: qos must be 0, 1 or 2/);
  assert.match(lines[2] ?? '', /unknown key "intervall" \(did you mean "interval"\?\)/);
  assert.match(lines[3] ?? '', /"29-xyz" is not a 1-Wire id/);
});

test('a YAML syntax error is located', async () => {
  const r = await loadConfigFile(`${FIXTURES}broken-syntax.yaml`);
  assert.ok(!r.ok);
  assert.equal(r.problems.length, 1);
  assert.equal(`${r.problems[0]?.line}:${r.problems[0]?.col}`, '8:11');
});

test('an empty file and a file with only comments mean all defaults', () => {
  for (const text of ['', '# nothing yet\n']) {
    const r = parseConfigText(text, 'sensors.yaml');
    assert.ok(r.ok);
    assert.equal(r.config.interval, 30_000);
    assert.deepEqual(r.config.sensors, {});
  }
});

test('the same chip in both notations, a wildcard topic and a duplicate key are refused', () => {
  const r = parseConfigText('sensors:\n  28-0316a2792dff: a/b\n  28.FF2D79A21603: home/+/x\n', 'f.yaml');
  assert.ok(!r.ok);
  const text = r.problems.map(formatProblem).join('\n');
  assert.match(text, /f\.yaml:3:3 sensors\.28\.FF2D79A21603: same sensor as "28-0316a2792dff"/);
  assert.match(text, /cannot contain \+, # or NUL/);
  const dup = parseConfigText('interval: 5s\ninterval: 6s\n', 'f.yaml');
  assert.ok(!dup.ok);
  assert.equal(dup.problems[0]?.line, 2);
});

test('a missing file is one problem, not an exception', async () => {
  const r = await loadConfigFile('/nonexistent/sensors.yaml');
  assert.ok(!r.ok);
  assert.match(r.problems[0]?.message ?? '', /cannot read/);
});
