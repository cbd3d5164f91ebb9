import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { isLoopbackHost } from '../../src/config/loopback.js';

const HASH = `$scrypt$1024$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;

test('loopback addresses are told apart from everything else', { timeout: 5000 }, () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'fe80::1', 'raspberrypi.local', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
});

test('a broker open to the network without a password_file or allow_anonymous is refused, with where and why', { timeout: 5000 }, () => {
  const r = parseConfigText('broker:\n  host: 0.0.0.0\n', 'sensors.yaml');
  assert.ok(!r.ok);
  const lines = r.problems.map(formatProblem);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0] ?? '', /^sensors\.yaml:2:9 broker\.host: listening on 0\.0\.0\.0 lets other machines connect: set broker\.password_file \(make it with `w1mqtt passwd -c FILE <user>`\) or set broker\.allow_anonymous: true$/);
  // The TLS and WebSocket listeners are checked too.
  const ws = parseConfigText('broker:\n  websocket: { host: 0.0.0.0 }\n', 'sensors.yaml');
  assert.ok(!ws.ok);
  assert.match(formatProblem(ws.problems[0]!), /broker\.websocket\.host: listening on 0\.0\.0\.0/);
});

test('a password_file or an explicit allow_anonymous opens it; loopback needs neither', { timeout: 5000 }, () => {
  assert.ok(parseConfigText('broker: { host: 0.0.0.0, allow_anonymous: true }\n', 'f').ok);
  const withFile = parseConfigText('broker:\n  host: 0.0.0.0\n  password_file: /etc/w1mqtt/passwd\n  acl_file: /etc/w1mqtt/acl\n', 'f');
  assert.ok(withFile.ok, JSON.stringify(!withFile.ok && withFile.problems));
  assert.equal(withFile.config.broker.password_file, '/etc/w1mqtt/passwd');
  const plain = parseConfigText('{}\n', 'f');
  assert.ok(plain.ok);
  assert.equal(plain.config.broker.host, '127.0.0.1');
  assert.equal(plain.config.broker.sys_interval, 10_000);
  assert.equal(plain.config.broker.max_packet_size, 262_144);
  assert.equal(plain.config.broker.persistence, true);
  assert.deepEqual(plain.warnings, []);
});

test('an old sensors.yaml: inline users are refused with the way to a password file; harmless old keys only warn', { timeout: 5000 }, () => {
  const users = parseConfigText(`broker:\n  users:\n    ha: { password: "${HASH}", read: ["home/#"] }\n`, 'sensors.yaml');
  assert.ok(!users.ok);
  const text = users.problems.map(formatProblem).join('\n');
  assert.match(text, /^sensors\.yaml:3:5 broker\.users: no longer read: the bundled broker is now mosquitto/);
  assert.match(text, /w1mqtt passwd -c \/etc\/w1mqtt\/passwd <user>/);
  const old = parseConfigText('broker:\n  port: 1884\n  protect_agent_topics: true\n  connect_timeout: 5s\n', 'sensors.yaml');
  assert.ok(old.ok, JSON.stringify(!old.ok && old.problems));
  assert.equal(old.config.broker.port, 1884);
  assert.deepEqual(
    old.warnings.map(formatProblem),
    [
      "sensors.yaml:3:3 broker.protect_agent_topics: ignored: the bundled broker is now mosquitto, whose acl_file decides who may write where (give other users `topic read home/#`)",
      'sensors.yaml:4:3 broker.connect_timeout: ignored: the bundled broker is now mosquitto, which closes a connection that sends no CONNECT by itself',
    ],
  );
});

test('clashing ports and an unknown broker key are each reported', { timeout: 5000 }, () => {
  const r = parseConfigText('broker:\n  websocket: { port: 1883 }\n  pasword_file: x\n', 'f');
  assert.ok(!r.ok);
  const text = r.problems.map(formatProblem).join('\n');
  assert.match(text, /broker\.port: broker\.port, broker\.tls\.port and broker\.websocket\.port must differ/);
  assert.match(text, /unknown key "pasword_file" \(did you mean "password_file"\?\)/);
});
