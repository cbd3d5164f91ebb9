import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as mqttConnect } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { fixtureWorkspace, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { publishOnce } from '../helpers/mqtt-pub.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { children, freshReading, usage } from '../helpers/proc-usage.js';

/**
 * Hostile input at the bundled broker (mosquitto, supervised by a real `w1mqtt run` on a
 * fixture bus): each kind is dropped or limited, client faults are logged once per
 * episode, and the agent's readings keep reaching a real mosquitto_sub all along.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const CLIENT_ID = 'w1mqtt-hostile';
const KITCHEN = 'home/kitchen/temperature';
const MAX_CONNECTIONS = 50;
const MAX_PACKET = 65_536;
const STEP = { timeout: 60_000 };

function connectPacket(clientId: string): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 60 });
}

function raw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when the broker closes `socket`; rejects if it is still open after `ms`. */
function closedByServer(socket: Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => undefined);
    socket.resume();
  });
}

function brokerLog(agent: AgentProcess, kind: string, extra: (l: Record<string, unknown>) => boolean = () => true, timeoutMs = 15_000) {
  return agent.waitForLog((l) => l['module'] === 'broker' && l['kind'] === kind && extra(l), timeoutMs);
}

test('hostile input at the bundled mosquitto is dropped or limited and logged, the readings go on', { timeout: 240_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const file = await ws.writeConfig(`
broker: { port: ${port}, max_connections: ${MAX_CONNECTIONS}, max_packet_size: ${MAX_PACKET}, max_queued_messages: 100, sys_interval: 1s }
mqtt: { client_id: ${CLIENT_ID}, stats_interval: 1s }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
unmapped: ignore
sensors:
  28-0316a2792dff: ${KITCHEN}
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: [KITCHEN, `home/w1mqtt/${CLIENT_ID}/#`] });
  t.after(() => sub.stop());
  await freshReading(sub, KITCHEN, 15_000);

  await t.test('a malformed packet: the connection is closed', STEP, async () => {
    const s1 = await raw(port);
    s1.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])); // CONNECT with a 5-byte Remaining Length
    await closedByServer(s1, 5000);
    // Well framed but not MQTT: the protocol name is wrong.
    const s2 = await raw(port);
    s2.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x48, 0x54, 0x54, 0x50, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]));
    await closedByServer(s2, 5000);
    await brokerLog(agent, 'protocol_error');
    await freshReading(sub, KITCHEN, 15_000);
  });

  await t.test('an oversized packet: dropped, by raw socket and by mosquitto_pub', STEP, async () => {
    const s = await raw(port);
    s.write(connectPacket('big-raw'));
    // PUBLISH announcing 1 MB; only its first bytes are sent.
    s.write(Buffer.concat([Buffer.from([0x30, 0x80, 0x80, 0x40]), Buffer.alloc(100, 0x41)]));
    await closedByServer(s, 5000);
    const big = await publishOnce({ port, topic: 'big/payload', message: 'x'.repeat(MAX_PACKET + 10), extra: ['-q', '1'] });
    const small = await publishOnce({ port, topic: 'small/payload', message: 'x'.repeat(1000) });
    assert.equal(small.code, 0, small.output);
    assert.notEqual(big.code, 0, big.output);
    await freshReading(sub, KITCHEN, 15_000);
  });

  await t.test('500 connections at once: up to max_connections, the rest refused, logged once', STEP, async (tt) => {
    const sockets: Socket[] = [];
    tt.after(() => {
      for (const s of sockets) s.destroy();
    });
    const outcomes = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        new Promise<'connack' | 'closed' | 'error'>((resolve) => {
          const s = netConnect({ host: '127.0.0.1', port });
          sockets.push(s);
          s.on('error', () => resolve('error'));
          s.on('close', () => resolve('closed'));
          s.on('data', (d: Buffer) => d[0] === 0x20 && resolve('connack'));
          s.on('connect', () => s.write(connectPacket(`flood-${i}`)));
        }),
      ),
    );
    const accepted = outcomes.filter((o) => o === 'connack').length;
    tt.diagnostic(`500 connections: ${accepted} got a CONNACK, ${outcomes.length - accepted} refused`);
    // mosquitto counts a listener's clients as they come and go, so a few over the limit may slip in at once.
    assert.ok(accepted >= 1 && accepted <= MAX_CONNECTIONS + 10, `accepted ${accepted}`);
    assert.ok(outcomes.length - accepted >= 500 - MAX_CONNECTIONS - 10, `refused ${outcomes.length - accepted}`);
    await brokerLog(agent, 'connection_limit');
    // The agent has a listener of its own: it stays up and keeps publishing.
    await freshReading(sub, KITCHEN, 15_000);
    for (const s of sockets) s.destroy();
    const over = await agent.waitForLog((l) => l['kind'] === 'connection_limit' && typeof l['count'] === 'number', 30_000);
    assert.ok(Number(over['count']) >= 1, JSON.stringify(over));
    assert.equal(agent.logs.filter((l) => l['kind'] === 'connection_limit' && l['level'] === 40).length, 1, 'one warning for the whole flood');
    const later = await subscribe({ port, topics: [KITCHEN] });
    await later.waitFor((m) => m.topic === KITCHEN);
    await later.stop();
  });

  await t.test('a subscriber to # that never reads: its queue is bounded, the others carry on', STEP, async (tt) => {
    const frozen = await raw(port);
    tt.after(() => frozen.destroy());
    frozen.write(connectPacket('frozen'));
    frozen.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1 }] }));
    await new Promise((r) => setTimeout(r, 200));
    frozen.pause(); // from now on its socket buffers fill up
    const flooder = mqttConnect(`mqtt://127.0.0.1:${port}`, { clientId: 'flooder', reconnectPeriod: 0 });
    tt.after(() => flooder.endAsync(true));
    await new Promise<void>((resolve, reject) => {
      flooder.once('connect', () => resolve());
      flooder.once('error', reject);
    });
    const chunk = Buffer.alloc(60_000, 0x61);
    // ~18 MB: far more than the kernel and Node buffers of one connection hold.
    for (let i = 0; i < 300; i++) flooder.publish('flood/data', chunk, { qos: 1 });
    await freshReading(sub, KITCHEN, 15_000);
    assert.equal(sub.lines.some((l) => l.startsWith('flood/')), false);
  });

  await t.test("a client using the agent's client id: the agent gets its session back and keeps publishing", STEP, async () => {
    const takeover = await publishOnce({ port, topic: 'x/y', message: 'z', clientId: CLIENT_ID });
    assert.equal(takeover.code, 0, takeover.output);
    await freshReading(sub, KITCHEN, 15_000);
  });

  await t.test('20 000 retained messages of 4 KB: the readings go on; mosquitto 2.0 has no retained limit, its growth is the payload', STEP, async (tt) => {
    const [broker] = children(agent.pid);
    assert.ok(broker !== undefined, 'the bundled mosquitto runs as the agent\'s child');
    const conf = readFileSync(/-c\0([^\0]+)/.exec(readFileSync(`/proc/${broker}/cmdline`, 'latin1'))?.[1] ?? '', 'utf8');
    assert.match(conf, /^max_queued_bytes 1048576$/m);
    const agentBefore = usage(agent.pid)?.rssMb ?? 0;
    const brokerBefore = usage(broker)?.rssMb ?? 0;
    const flooder = mqttConnect(`mqtt://127.0.0.1:${port}`, { clientId: 'retainer', reconnectPeriod: 0 });
    tt.after(() => flooder.endAsync(true));
    await new Promise<void>((resolve, reject) => {
      flooder.once('connect', () => resolve());
      flooder.once('error', reject);
    });
    const payload = Buffer.alloc(4096, 0x72);
    const COUNT = 20_000;
    for (let i = 0; i < COUNT; i++) await new Promise<void>((resolve) => flooder.publish(`retained/${i}`, payload, { qos: 0, retain: true }, () => resolve()));
    await freshReading(sub, KITCHEN, 15_000);
    await freshReading(sub, KITCHEN, 15_000);
    const brokerAfter = usage(broker)?.rssMb ?? 0;
    const agentAfter = usage(agent.pid)?.rssMb ?? 0;
    tt.diagnostic(`${COUNT} retained × 4 KB: mosquitto RSS ${brokerBefore.toFixed(0)} → ${brokerAfter.toFixed(0)} MB, agent ${agentBefore.toFixed(0)} → ${agentAfter.toFixed(0)} MB`);
    // The store holds what was sent, and not much more; the agent itself is not touched.
    assert.ok(brokerAfter - brokerBefore < (3 * COUNT * payload.length) / 1e6, `mosquitto ${brokerBefore} → ${brokerAfter} MB`);
    assert.ok(agentAfter - agentBefore < 30, `agent ${agentBefore} → ${agentAfter} MB`);
    // Cleared again (an empty retained message removes one), so the broker's persistence stays small.
    for (let i = 0; i < COUNT; i++) await new Promise<void>((resolve) => flooder.publish(`retained/${i}`, '', { qos: 0, retain: true }, () => resolve()));
    await freshReading(sub, KITCHEN, 15_000);
  });

  const stats = sub.retainedLines.filter((m) => m.topic === `home/w1mqtt/${CLIENT_ID}/stats`).at(-1);
  assert.ok(stats, 'stats published');
  const doc = JSON.parse(stats.payload) as { readings: { ok: number }; queue: { dropped: number } };
  assert.ok(doc.readings.ok > 5);
  assert.equal(doc.queue.dropped, 0);
});
