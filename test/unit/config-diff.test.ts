import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig, hasChanges, needsNewConnection, summarizeDiff } from '../../src/config/diff.js';
import { configSchema } from '../../src/config/schema.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { planSensors } from '../../src/agent/plan.js';
import { retiredTopics } from '../../src/agent/retire.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';

const parse = (raw: Record<string, unknown>) => configSchema.parse({ mqtt: { client_id: 'pi' }, ...raw });

test('an identical config, or an id rewritten in the other notation, is no change', () => {
  const a = parse({ sensors: { '28-0316a2792dff': 'home/kitchen/temperature' } });
  const b = parse({ sensors: { '28.FF2D79A21603': { topic: 'home/kitchen/temperature' } } });
  const d = diffConfig(a, b);
  assert.equal(hasChanges(d), false);
  assert.equal(summarizeDiff(d, b), 'no changes');
});

test('sensors added, removed and changed, with the fields that changed', () => {
  const a = parse({ sensors: { '28-0316a2792dff': 'home/kitchen/temperature', '10-000802b4a1c3': 'home/garage/temperature' } });
  const b = parse({
    sensors: { '28-0316a2792dff': { topic: 'home/lounge/temperature', offset: -0.5, interval: '10s' }, '22-00000053e8a1': 'home/cellar/temperature' },
  });
  const d = diffConfig(a, b);
  assert.deepEqual(d.added, ['22-00000053e8a1']);
  assert.deepEqual(d.removed, ['10-000802b4a1c3']);
  assert.deepEqual(d.changed, [{ id: '28-0316a2792dff', fields: ['topic', 'interval', 'offset'] }]);
  assert.equal(needsNewConnection(d), false);
  assert.equal(summarizeDiff(d, b), 'sensors +1 (22-00000053e8a1) -1 (10-000802b4a1c3) ~1 (28-0316a2792dff: topic+interval+offset)');
});

test('payload settings apply in place; connection settings need a reconnect; unknown ones a restart', () => {
  const a = parse({});
  const b = parse({ interval: '10s', unmapped: 'ignore', log_level: 'debug', mqtt: { client_id: 'pi', qos: 0, payload: 'json', url: 'mqtt://127.0.0.1:1884', username: 'u' } });
  const d = diffConfig(a, b);
  assert.deepEqual(d.settings, ['mqtt.qos', 'mqtt.payload', 'interval', 'unmapped', 'log_level']);
  assert.deepEqual(d.reconnect, ['mqtt.url', 'mqtt.username']);
  assert.equal(d.broker, 'stop');
  assert.equal(needsNewConnection(d), true);
  // A key added to the schema later is not silently ignored: it is reported as needing a restart.
  const future = { ...a, web: { port: 8080 } } as typeof a;
  assert.deepEqual(diffConfig(future, future).restart, []);
  assert.deepEqual(diffConfig(future, { ...a, web: { port: 9090 } } as typeof a).restart, ['web']);
  assert.match(summarizeDiff(d, b), /mqtt\.qos, mqtt\.payload, interval, unmapped, log_level; bundled broker stopped \(mqtt\.url set\); mqtt reconnect \(url, username\)$/);
});

test('the bundled broker: a new port is a broker setting, ignored while an external broker is used', () => {
  const bundled = parse({ broker: { port: 1883 } });
  const moved = parse({ broker: { port: 1884 } });
  assert.equal(diffConfig(bundled, moved).broker, 'keep');
  assert.equal(summarizeDiff(diffConfig(bundled, moved), moved), 'broker.port');
  const external = parse({ mqtt: { client_id: 'pi', url: 'mqtt://127.0.0.1:1885' }, broker: { port: 1883 } });
  const externalMoved = parse({ mqtt: { client_id: 'pi', url: 'mqtt://127.0.0.1:1885' }, broker: { port: 1884 } });
  assert.equal(hasChanges(diffConfig(external, externalMoved)), false);
  assert.equal(diffConfig(external, bundled).broker, 'start');
});

const source: Source = { name: 'w1:/x', list: async () => [], read: async () => ({ ok: true, milli: 0 }), close: async () => {} };
function device(name: string): Device {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { id, name, bus: 'b', chip: 'DS18B20' };
}
const devices = [device('28-0316a2792dff'), device('10-000802b4a1c3'), device('22-00000053e8a1'), device('3b-0000001852ad')];

test('retired topics: remapped, ignored and disabled sensors, a new base_topic; never a topic still in use', () => {
  const before = parse({
    sensors: { '28-0316a2792dff': 'home/a', '10-000802b4a1c3': 'home/b', '22-00000053e8a1': 'home/c' },
  });
  const plan = planSensors(before, [{ source, devices }]).routes;
  const after = parse({
    unmapped: 'ignore',
    // a and b swap topics (nothing to clear); c is disabled; the unmapped 3b is now ignored.
    sensors: { '28-0316a2792dff': 'home/b', '10-000802b4a1c3': 'home/a', '22-00000053e8a1': { topic: 'home/c', enabled: false } },
  });
  assert.deepEqual(retiredTopics(plan, after).sort(), ['home/1wire/3b-0000001852ad/temperature', 'home/c']);
  const rebased = parse({ mqtt: { client_id: 'pi', base_topic: 'house' }, sensors: before.sensors });
  assert.deepEqual(retiredTopics(plan, rebased), ['home/1wire/3b-0000001852ad/temperature']);
  assert.deepEqual(retiredTopics(plan, before), []);
});
