import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import { formatPayload, statusTopic, unmappedTopic } from '../../src/mqtt/topics.js';
import { formatValue } from '../../src/readings/value-text.js';

test('formatValue rounds half away from zero to the given decimals', { timeout: 20000 }, () => {
  assert.equal(formatValue(21.4375, 2), '21.44');
  assert.equal(formatValue(-0.0625, 2), '-0.06');
  assert.equal(formatValue(-10.125, 2), '-10.13');
  assert.equal(formatValue(21.5, 0), '22');
  assert.equal(formatValue(-21.5, 0), '-22');
  assert.equal(formatValue(23.125, 1), '23.1');
  assert.equal(formatValue(25, 2), '25.00');
});

test('formatValue never prints a negative zero', { timeout: 20000 }, () => {
  assert.equal(formatValue(-0, 2), '0.00');
  assert.equal(formatValue(-0.001, 2), '0.00');
  assert.equal(formatValue(-0.4, 0), '0');
});

test('formatPayload plain is the bare value', { timeout: 20000 }, () => {
  const input = { celsius: 21.4375, time: new Date('2024-05-01T12:00:00Z'), sensor: '28-0316a2792dff' };
  assert.equal(formatPayload('plain', 2, input), '21.44');
  assert.equal(formatPayload('plain', 0, { ...input, name: 'Kitchen' }), '21');
});

test('formatPayload json carries temperature, unit, time, sensor and name', { timeout: 20000 }, () => {
  const time = new Date('2024-05-01T12:00:00.250Z');
  const withName = JSON.parse(formatPayload('json', 2, { celsius: -0.0625, time, sensor: '28.FF2D79A21603', name: 'Garage' }));
  assert.deepEqual(withName, { temperature: -0.06, unit: 'C', time: '2024-05-01T12:00:00.250Z', sensor: '28.FF2D79A21603', name: 'Garage' });
  const noName = JSON.parse(formatPayload('json', 2, { celsius: 21.4375, time, sensor: '28-0316a2792dff' }));
  assert.deepEqual(noName, { temperature: 21.44, unit: 'C', time: '2024-05-01T12:00:00.250Z', sensor: '28-0316a2792dff' });
  assert.equal('name' in noName, false);
});

test('statusTopic is <base_topic>/w1mqtt/<client_id>/status', { timeout: 20000 }, () => {
  const config = configSchema.parse({ mqtt: { base_topic: 'house', client_id: 'w1mqtt-kitchenpi' } });
  assert.equal(statusTopic(config), 'house/w1mqtt/w1mqtt-kitchenpi/status');
  const defaults = configSchema.parse({ mqtt: { client_id: 'pi' } });
  assert.equal(statusTopic(defaults), 'home/w1mqtt/pi/status');
});

test('unmappedTopic is <base_topic>/1wire/<id>/temperature', { timeout: 20000 }, () => {
  assert.equal(unmappedTopic('home', '28-0316a2792dff'), 'home/1wire/28-0316a2792dff/temperature');
  assert.equal(unmappedTopic('a/b', '28.FF2D79A21603'), 'a/b/1wire/28.FF2D79A21603/temperature');
});
