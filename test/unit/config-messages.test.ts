import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { closestKey, schemaKeys } from '../../src/config/schema-keys.js';

/** The problems of a config text, formatted as `check` prints them. */
function problems(text: string): string[] {
  const r = parseConfigText(text, 'sensors.yaml');
  assert.equal(r.ok, false, 'refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('a value of the wrong type says what was found, not "required"', () => {
  assert.deepEqual(problems('mqtt:\n  retain: "yes please"\n'), ['sensors.yaml:2:11 mqtt.retain: expected boolean, got string']);
  assert.deepEqual(problems('mqtt:\n  username: 42\n'), ['sensors.yaml:2:13 mqtt.username: expected string, got number']);
  assert.deepEqual(problems('mqtt:\n  username: [a, b]\n'), ['sensors.yaml:2:13 mqtt.username: expected string, got array']);
  assert.deepEqual(problems('mqtt: 5\n'), ['sensors.yaml:1:7 mqtt: expected object, got number']);
  assert.deepEqual(problems('web:\n  enabled:\n'), ['sensors.yaml:2:11 web.enabled: expected boolean, got null (no value)']);
  // YAML 1.2 (the yaml package's default) reads yes/on as strings.
  assert.deepEqual(problems('homeassistant:\n  enabled: yes\n'), ['sensors.yaml:2:12 homeassistant.enabled: expected boolean, got string (write true or false)']);
});

test('a missing required value still says "required"', () => {
  const [line] = problems('sources:\n  - type: owserver\n    port: 4304\n    host: 127.0.0.1\n  - path: /mnt/1wire\n');
  assert.ok(line !== undefined);
  assert.doesNotMatch(line, /got /);
});

test('"did you mean" knows every key of the schema, including ones a hand-kept list lacked', () => {
  const keys = schemaKeys(configSchema);
  for (const key of ['bulk_read', 'log_level', 'keepalive', 'users', 'tls', 'acl_file', 'protocol', 'uncached', 'status_topic', 'sys_interval', 'mqtt', 'sensors', 'topic', 'humidity']) {
    assert.ok(keys.includes(key), `${key} in ${keys.join(' ')}`);
  }
  assert.equal(new Set(keys).size, keys.length);
  assert.match(problems('sources:\n  - type: w1\n    bulk_raed: true\n')[0] ?? '', /unknown key "bulk_raed" \(did you mean "bulk_read"\?\)$/);
  assert.match(problems('log_levle: debug\n')[0] ?? '', /unknown key "log_levle" \(did you mean "log_level"\?\)$/);
  assert.match(problems('mqtt:\n  keepalve: 30\n')[0] ?? '', /unknown key "keepalve" \(did you mean "keepalive"\?\)$/);
  assert.match(problems('mqtt:\n  zzzzzzzz: 1\n')[0] ?? '', /unknown key "zzzzzzzz"$/);
});

test('closestKey: the nearest within two edits, never a key the size of the edit', () => {
  assert.equal(closestKey('intervall', ['interval', 'internal']), 'interval');
  assert.equal(closestKey('prot', ['port', 'protocol']), 'port');
  assert.equal(closestKey('ab', ['tls', 'qos']), undefined);
  assert.equal(closestKey('qos', ['qos']), undefined);
});
