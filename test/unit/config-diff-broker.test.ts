import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig, needsNewConnection } from '../../src/config/diff.js';
import { configSchema } from '../../src/config/schema.js';

const HASH = `$scrypt$1024$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;

test('users, ACLs, limits, $SYS, stats and Home Assistant apply in place; new listeners wait for a restart', { timeout: 5000 }, () => {
  const before = configSchema.parse({});
  const after = configSchema.parse({
    broker: { users: { ha: { password: HASH, read: ['home/#'] } }, max_connections: 10, sys_interval: '5s', tls: { port: 8883, cert_file: 'c', key_file: 'k' } },
    mqtt: { stats_interval: '10s' },
    homeassistant: { enabled: true },
  });
  const d = diffConfig(before, after);
  assert.deepEqual([...d.settings].sort(), ['broker.max_connections', 'broker.sys_interval', 'broker.users', 'homeassistant', 'mqtt.stats_interval']);
  assert.deepEqual(d.restart, ['broker.tls']);
  assert.equal(d.broker, 'keep');
  assert.equal(needsNewConnection(d), false);
  // Moving the broker is still a rebind.
  assert.equal(diffConfig(before, configSchema.parse({ broker: { port: 1884 } })).broker, 'rebind');
});
