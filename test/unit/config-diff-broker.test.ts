import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig, needsNewConnection } from '../../src/config/diff.js';
import { configSchema } from '../../src/config/schema.js';

test('every broker key is applied by the running broker (SIGHUP or restart), never by a new agent connection', { timeout: 5000 }, () => {
  const before = configSchema.parse({});
  const after = configSchema.parse({
    broker: { password_file: '/etc/w1mqtt/passwd', max_connections: 10, sys_interval: '5s', port: 1884, tls: { port: 8883, cert_file: 'c', key_file: 'k' } },
    mqtt: { stats_interval: '10s' },
    homeassistant: { enabled: true },
  });
  const d = diffConfig(before, after);
  assert.deepEqual([...d.settings].sort(), ['broker.max_connections', 'broker.password_file', 'broker.port', 'broker.sys_interval', 'broker.tls', 'homeassistant', 'mqtt.stats_interval']);
  assert.deepEqual(d.restart, []);
  assert.equal(d.broker, 'keep');
  assert.equal(needsNewConnection(d), false);
});
