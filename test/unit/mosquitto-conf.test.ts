import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brokerChange, renderMosquittoConf } from '../../src/broker/mosquitto-conf.js';
import { classifyBrokerLine } from '../../src/broker/mosquitto-log.js';
import { describeHolder, listeningInodes } from '../../src/broker/port-holder.js';
import { configSchema } from '../../src/config/schema.js';

const broker = (b: Record<string, unknown>) => configSchema.parse({ broker: b }).broker;
const PATHS = { dir: '/var/lib/w1mqtt/broker', user: 'w1mqtt' };

/** The option lines after `listener <header>` up to the next blank line. */
function section(conf: string, header: string): string[] {
  const lines = conf.split('\n');
  const start = lines.indexOf(`listener ${header}`);
  assert.notEqual(start, -1, `no listener ${header} in\n${conf}`);
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

test('defaults: a private socket for the agent, anonymous loopback MQTT for users, persistence in the state directory', { timeout: 5000 }, () => {
  const conf = renderMosquittoConf(broker({}), PATHS);
  assert.match(conf, /^per_listener_settings true$/m);
  assert.match(conf, /^persistence true$/m);
  assert.match(conf, /^persistence_location \/var\/lib\/w1mqtt\/broker\/$/m);
  assert.match(conf, /^sys_interval 10$/m);
  assert.match(conf, /^max_packet_size 262144$/m);
  assert.match(conf, /^user w1mqtt$/m);
  assert.deepEqual(section(conf, '0 /var/lib/w1mqtt/broker/agent.sock'), ['allow_anonymous true']);
  assert.deepEqual(section(conf, '1883 127.0.0.1'), ['max_connections 256', 'allow_anonymous true']);
  assert.doesNotMatch(conf, /password_file|acl_file|certfile|websockets/);
});

test("the user's password and ACL files are referenced unchanged on every network listener", { timeout: 5000 }, () => {
  const conf = renderMosquittoConf(
    broker({ host: '0.0.0.0', password_file: '/etc/w1mqtt/passwd', acl_file: '/etc/w1mqtt/acl', tls: { port: 8883, cert_file: '/c.pem', key_file: '/k.pem', ca_file: '/ca.pem' }, websocket: { port: 9001 }, sys_interval: '1500ms' }),
    PATHS,
  );
  const auth = ['max_connections 256', 'allow_anonymous false', 'password_file /etc/w1mqtt/passwd', 'acl_file /etc/w1mqtt/acl'];
  assert.deepEqual(section(conf, '1883 0.0.0.0'), auth);
  assert.deepEqual(section(conf, '8883 0.0.0.0'), ['certfile /c.pem', 'keyfile /k.pem', 'cafile /ca.pem', 'require_certificate false', ...auth]);
  assert.deepEqual(section(conf, '9001 0.0.0.0'), ['protocol websockets', ...auth]);
  // The agent's own socket stays free of the user's rules.
  assert.deepEqual(section(conf, '0 /var/lib/w1mqtt/broker/agent.sock'), ['allow_anonymous true']);
  assert.match(conf, /^sys_interval 2$/m, 'whole seconds, rounded up');
  assert.match(renderMosquittoConf(broker({ sys_interval: 0 }), PATHS), /^sys_interval 0$/m);
});

test('a change of users, ACLs or limits is a SIGHUP; a change of listeners a restart', { timeout: 5000 }, () => {
  const base = broker({});
  assert.equal(brokerChange(base, broker({})), 'none');
  assert.equal(brokerChange(base, broker({ password_file: '/p', allow_anonymous: true })), 'hup');
  assert.equal(brokerChange(base, broker({ acl_file: '/a' })), 'hup');
  assert.equal(brokerChange(base, broker({ sys_interval: '1s', max_queued_messages: 10 })), 'hup');
  assert.equal(brokerChange(base, broker({ port: 1884 })), 'restart');
  assert.equal(brokerChange(base, broker({ websocket: { port: 9001 } })), 'restart');
  assert.equal(brokerChange(base, broker({ max_connections: 5 })), 'restart');
});

test("mosquitto's log lines: levels from their wording, client faults as episodes", { timeout: 5000 }, () => {
  assert.deepEqual(classifyBrokerLine('Error: Address already in use'), { level: 'error', msg: 'Error: Address already in use' });
  assert.equal(classifyBrokerLine('Warning: Mosquitto should not be run as root/administrator.').level, 'warn');
  assert.equal(classifyBrokerLine('New client connected from 127.0.0.1:55042 as auto-1 (p5, c1, k60).').level, 'debug');
  assert.equal(classifyBrokerLine('mosquitto version 2.0.11 starting').level, 'info');
  const bad = classifyBrokerLine('Client <unknown> disconnected due to protocol error.');
  assert.equal(bad.kind, 'protocol_error');
  assert.equal(bad.client, '<unknown>');
  assert.equal(classifyBrokerLine('Client connection from 127.0.0.1 denied: max_connections exceeded.').kind, 'connection_limit');
  assert.equal(classifyBrokerLine('Client w1mqtt-pi already connected, closing old connection.').kind, 'client_id_taken');
  assert.equal(classifyBrokerLine('Client mallory disconnected, not authorised.').kind, 'auth_failed');
});

test('the listening socket of a port is found in /proc/net/tcp', { timeout: 5000 }, () => {
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:075B 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 31337 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:075B 0100007F:D2C4 01 00000000:00000000 00:00000000 00000000   107        0 4242 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(listeningInodes(table, 1883), ['31337']);
  assert.deepEqual(listeningInodes(table, 1884), []);
  assert.equal(describeHolder(1883, { pid: 42, command: 'mosquitto -c /etc/mosquitto/mosquitto.conf' }), 'held by PID 42 (mosquitto -c /etc/mosquitto/mosquitto.conf)');
  assert.match(describeHolder(1883, {}), /sudo ss -ltnp 'sport = :1883'/);
});
