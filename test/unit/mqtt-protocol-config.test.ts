import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig, hasChanges } from '../../src/config/diff.js';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { configSchema, defaultConfig } from '../../src/config/schema.js';
import { redactUrl } from '../../src/system/redact-url.js';

/** `mqtt.protocol` and its deprecated alias `mqtt.protocol_version`, as a user writes them in sensors.yaml. */

function protocolOf(yaml: string): unknown {
  const r = parseConfigText(`mqtt:\n${yaml}`, 'sensors.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems.map(formatProblem)));
  return r.config.mqtt.protocol;
}

function problemsOf(yaml: string): string[] {
  const r = parseConfigText(`mqtt:\n${yaml}`, 'sensors.yaml');
  assert.ok(!r.ok, `expected ${JSON.stringify(yaml)} to be refused`);
  return r.problems.map(formatProblem);
}

test('the default is auto, with no file and with an empty mqtt section', () => {
  assert.equal(defaultConfig().mqtt.protocol, 'auto');
  assert.equal(protocolOf('  base_topic: home\n'), 'auto');
});

test('protocol: auto, 5 and 4 as YAML writes them', () => {
  assert.equal(protocolOf('  protocol: auto\n'), 'auto');
  assert.equal(protocolOf('  protocol: 5\n'), 5);
  assert.equal(protocolOf('  protocol: 4\n'), 4);
});

test('the deprecated protocol_version still decides when protocol is not set; protocol wins when both are', () => {
  assert.equal(protocolOf('  protocol_version: 4\n'), 4);
  assert.equal(protocolOf('  protocol_version: 5\n'), 5);
  assert.equal(protocolOf('  protocol_version: 4\n  protocol: auto\n'), 'auto');
  assert.equal(protocolOf('  protocol_version: 5\n  protocol: 4\n'), 4);
  const mqtt = configSchema.parse({ mqtt: { protocol_version: 5 } }).mqtt;
  assert.equal('protocol_version' in mqtt, false, 'code past parsing sees one resolved key');
});

test('other values are refused with the values that work, at their line and column', () => {
  for (const bad of ['3', '"5"', '3.1.1', 'v5', 'true']) {
    const problems = problemsOf(`  protocol: ${bad}\n`);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^sensors\.yaml:2:13 mqtt\.protocol: protocol must be auto, 5 \(MQTT 5\) or 4 \(MQTT 3\.1\.1\)$/);
  }
  const alias = problemsOf('  protocol_version: 3\n');
  assert.match(alias[0] ?? '', /mqtt\.protocol_version: protocol_version must be 4 \(MQTT 3\.1\.1\) or 5; write protocol: 4, 5 or auto instead$/);
});

test('a reload: renaming protocol_version to protocol is no change, a new version is a reconnect', () => {
  const parse = (mqtt: Record<string, unknown>) => configSchema.parse({ mqtt: { client_id: 'pi', ...mqtt } });
  assert.equal(hasChanges(diffConfig(parse({ protocol_version: 5 }), parse({ protocol: 5 }))), false);
  assert.deepEqual(diffConfig(parse({}), parse({ protocol: 4 })).reconnect, ['mqtt.protocol']);
});

test('redactUrl keeps a unix socket URL whole and drops a password from one', () => {
  assert.equal(redactUrl('mqtt+unix:///run/w1mqtt/mqtt.sock'), 'mqtt+unix:///run/w1mqtt/mqtt.sock');
  assert.equal(redactUrl('mqtt+unix://pi:s3cret@/run/w1mqtt/mqtt.sock'), 'mqtt+unix:///run/w1mqtt/mqtt.sock');
  assert.equal(redactUrl('mqtt://pi:s3cret@192.168.1.10:1883'), 'mqtt://pi@192.168.1.10:1883');
  assert.equal(redactUrl('mqtt://pi:s3cret@192.168.1.10:1883', 'credentials'), 'mqtt://192.168.1.10:1883');
  assert.equal(redactUrl('mqtts://pi@broker.lan:8883', 'credentials'), 'mqtts://broker.lan:8883');
  assert.equal(redactUrl('mqtts://broker.lan:8883', 'credentials'), 'mqtts://broker.lan:8883');
});
