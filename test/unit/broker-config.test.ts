import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { isLoopbackHost } from '../../src/config/loopback.js';

const HASH = `$scrypt$1024$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;

test('loopback addresses are told apart from everything else', { timeout: 5000 }, () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'fe80::1', 'raspberrypi.local', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
});

test('a broker open to the network without users or allow_anonymous is refused, with where and why', { timeout: 5000 }, () => {
  const r = parseConfigText('broker:\n  host: 0.0.0.0\n', 'sensors.yaml');
  assert.ok(!r.ok);
  const lines = r.problems.map(formatProblem);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0] ?? '', /^sensors\.yaml:2:9 broker\.host: listening on 0\.0\.0\.0 lets other machines connect: add broker\.users \(hash a password with `w1mqtt passwd <user>`\) or set broker\.allow_anonymous: true$/);
  // The TLS and WebSocket listeners are checked too.
  const ws = parseConfigText('broker:\n  websocket: { host: 0.0.0.0 }\n', 'sensors.yaml');
  assert.ok(!ws.ok);
  assert.match(formatProblem(ws.problems[0]!), /broker\.websocket\.host: listening on 0\.0\.0\.0/);
});

test('users or an explicit allow_anonymous open it; loopback needs neither', { timeout: 5000 }, () => {
  assert.ok(parseConfigText('broker: { host: 0.0.0.0, allow_anonymous: true }\n', 'f').ok);
  const withUsers = parseConfigText(`broker:\n  host: 0.0.0.0\n  users:\n    ha: { password: "${HASH}", read: ["home/#"], write: ["homeassistant/status"] }\n`, 'f');
  assert.ok(withUsers.ok, JSON.stringify(!withUsers.ok && withUsers.problems));
  assert.deepEqual(withUsers.config.broker.users['ha']?.read, ['home/#']);
  const plain = parseConfigText('{}\n', 'f');
  assert.ok(plain.ok);
  assert.equal(plain.config.broker.host, '127.0.0.1');
  assert.equal(plain.config.broker.sys_interval, 10_000);
  assert.equal(plain.config.broker.max_packet_size, 262_144);
  assert.equal(plain.config.homeassistant.enabled, false);
  assert.equal(plain.config.homeassistant.prefix, 'homeassistant');
});

test('a plain password, a bad ACL filter and clashing ports are each reported', { timeout: 5000 }, () => {
  const r = parseConfigText('broker:\n  users:\n    bob: { password: hunter2, write: ["a/#/b"] }\n  websocket: { port: 1883 }\n', 'f');
  assert.ok(!r.ok);
  const text = r.problems.map(formatProblem).join('\n');
  assert.match(text, /broker\.users\.bob\.password: not a password hash: create one with `w1mqtt passwd <user>`/);
  assert.match(text, /broker\.users\.bob\.write\.0: not a topic filter/);
  assert.match(text, /broker\.port: broker\.port, broker\.tls\.port and broker\.websocket\.port must differ/);
});
