import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as mqttConnect } from 'mqtt';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { findBinary, haveMosquitto } from '../helpers/mosquitto.js';
import { publishOnce } from '../helpers/mqtt-pub.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';

/**
 * The bundled broker secured the mosquitto way: a password file made by the real
 * mosquitto_passwd and an acl_file in mosquitto's format, used unchanged, on the plain,
 * TLS and WebSocket listeners, while the agent publishes through its private socket.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const SENSOR_TOPIC = 'home/kitchen/temperature';
const ACL = `# anonymous clients: nothing
user alice
topic read home/#
topic write home/alice/#
pattern write shared/%u/#

user writer
topic readwrite #
topic deny secret/#
`;

test('password_file and acl_file from mosquitto’s own tools, on every listener', { timeout: 180_000, skip: noMosquitto }, async (t) => {
  const openssl = findBinary('openssl');
  if (!openssl) throw new Error('openssl not installed (apt-get install openssl)');
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const passwd = join(ws.dir, 'passwd');
  for (const [i, [user, pw]] of [['alice', 'alice-pw'], ['writer', 'writer-pw']].entries()) {
    const made = spawnSync(findBinary('mosquitto_passwd')!, ['-b', ...(i === 0 ? ['-c'] : []), passwd, user!, pw!], { timeout: 10_000, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
  }
  const acl = join(ws.dir, 'acl');
  await writeFile(acl, ACL);
  const cert = join(ws.dir, 'cert.pem');
  const key = join(ws.dir, 'key.pem');
  execFileSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore', timeout: 30_000 });
  const [port, tlsPort, wsPort] = [await freePort(), await freePort(), await freePort()];
  const file = await ws.writeConfig(`broker:
  port: ${port}
  password_file: ${passwd}
  acl_file: ${acl}
  tls: { port: ${tlsPort}, cert_file: ${cert}, key_file: ${key} }
  websocket: { port: ${wsPort} }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
unmapped: ignore
sensors:
  28-0316a2792dff: ${SENSOR_TOPIC}
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);

  await t.test('anonymous and wrong passwords are refused (and logged once), a right one is let in', async () => {
    await assert.rejects(subscribe({ port, topics: ['home/#'] }), /not authori[sz]ed/i);
    await assert.rejects(subscribe({ port, topics: ['home/#'], username: 'alice', password: 'nope' }), /bad user name or password|not authori[sz]ed/i);
    await agent.waitForLog((l) => l['module'] === 'broker' && l['kind'] === 'auth_failed');
    const sub = await subscribe({ port, topics: ['home/#'], username: 'alice', password: 'alice-pw', extra: ['-V', 'mqttv5'] });
    await sub.waitFor((m) => m.topic === SENSOR_TOPIC && !m.retained, 15_000);
    await sub.stop();
  });

  await t.test('ACL: reads outside the read rules never arrive, writes outside the write rules are dropped, deny wins', async () => {
    const everything = await subscribe({ port, topics: ['#'], username: 'writer', password: 'writer-pw' });
    const alice = await subscribe({ port, topics: ['#'], username: 'alice', password: 'alice-pw' });
    try {
      assert.equal((await publishOnce({ port, topic: 'garden/shed', message: 'g1', username: 'writer', password: 'writer-pw' })).code, 0);
      assert.equal((await publishOnce({ port, topic: 'home/hall', message: 'h1', username: 'writer', password: 'writer-pw' })).code, 0);
      await alice.waitFor((m) => m.topic === 'home/hall' && m.payload === 'h1');
      await everything.waitFor((m) => m.topic === 'garden/shed');
      assert.equal(alice.lines.some((l) => l.startsWith('garden/')), false, 'alice may subscribe to #, but only home/# reaches her');
      // Alice writes where her rules allow (%u included); elsewhere mosquitto drops the message.
      assert.equal((await publishOnce({ port, topic: 'home/alice/phone', message: 'a1', username: 'alice', password: 'alice-pw' })).code, 0);
      assert.equal((await publishOnce({ port, topic: 'home/hall', message: 'forged', username: 'alice', password: 'alice-pw' })).code, 0);
      assert.equal((await publishOnce({ port, topic: 'shared/alice/x', message: 'a2', username: 'alice', password: 'alice-pw' })).code, 0);
      assert.equal((await publishOnce({ port, topic: 'secret/x', message: 's1', username: 'writer', password: 'writer-pw' })).code, 0);
      await everything.waitFor((m) => m.topic === 'shared/alice/x' && m.payload === 'a2');
      await everything.waitFor((m) => m.topic === 'home/alice/phone' && m.payload === 'a1');
      assert.equal(everything.lines.includes('home/hall forged'), false);
      assert.equal(everything.lines.some((l) => l.startsWith('secret/')), false, 'topic deny wins over readwrite #');
      // The agent, on its own socket, is not bound by the ACL: its readings still arrive.
      await alice.waitFor((m) => m.topic === SENSOR_TOPIC && !m.retained, 15_000);
    } finally {
      await everything.stop();
      await alice.stop();
    }
  });

  await t.test('TLS listener: mosquitto_sub verifies the certificate and reads the retained reading', async () => {
    const sub = await subscribe({ port: tlsPort, topics: [SENSOR_TOPIC], username: 'alice', password: 'alice-pw', extra: ['--cafile', cert] });
    await sub.waitFor((m) => m.topic === SENSOR_TOPIC && m.retained);
    await sub.stop();
    const plain = await publishOnce({ port: tlsPort, topic: 'a/b', message: 'x', username: 'writer', password: 'writer-pw', timeoutMs: 8000 });
    assert.notEqual(plain.code, 0, 'plain MQTT on the TLS port gets nowhere');
  });

  await t.test('WebSocket listener: an MQTT-over-WebSocket client (MQTT.js, as in a browser) logs in and reads', async () => {
    const client = mqttConnect(`ws://127.0.0.1:${wsPort}/mqtt`, { username: 'alice', password: 'alice-pw', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      const got = new Promise<string>((resolve) => client.on('message', (topic, payload) => topic === SENSOR_TOPIC && resolve(payload.toString())));
      await client.subscribeAsync('home/#');
      assert.match(await got, /^-?\d+\.\d\d$/);
    } finally {
      await client.endAsync(true);
    }
  });
});
