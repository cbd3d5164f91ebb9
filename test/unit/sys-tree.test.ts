import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyTraffic, nextLoad, SysTree } from '../../src/mqtt/sys-tree.js';

test('nextLoad is mosquitto calc_load: an EMA of the per-minute rate', { timeout: 5000 }, () => {
  // A steady rate is a fixed point.
  assert.equal(nextLoad(30, 30, 10, 60), 30);
  // From 0, one 10 s step towards 60/min over a 1 min window: 60 · (1 − e^(−1/6)).
  assert.ok(Math.abs(nextLoad(0, 60, 10, 60) - 60 * (1 - Math.exp(-10 / 60))) < 1e-9);
  // Longer windows move more slowly.
  assert.ok(nextLoad(0, 60, 10, 900) < nextLoad(0, 60, 10, 300));
});

test('publishes mosquitto names: uptime always, the rest only when changed, version once', { timeout: 5000 }, async () => {
  let now = 1_000_000;
  const traffic = emptyTraffic();
  const sent: [string, string][] = [];
  const tree = new SysTree({
    source: { traffic, clientsConnected: () => 2, subscriptionCount: () => 3, retainedCount: async () => 5 },
    publish: (topic, payload) => sent.push([topic, payload]),
    intervalMs: 0, // no timer: the test drives tick()
    version: 'w1mqtt version 9.9.9 (aedes 1.2.0)',
    now: () => now,
  });
  tree.start();
  assert.deepEqual(sent.splice(0), [['$SYS/broker/version', 'w1mqtt version 9.9.9 (aedes 1.2.0)']]);

  now += 10_000;
  Object.assign(traffic, { messagesReceived: 20, messagesSent: 40, publishReceived: 10, publishSent: 30, bytesReceived: 1000, bytesSent: 3000, connections: 2, sockets: 3 });
  await tree.tick();
  const first = new Map(sent.splice(0));
  assert.equal(first.get('$SYS/broker/uptime'), '10 seconds');
  assert.equal(first.get('$SYS/broker/clients/connected'), '2');
  assert.equal(first.get('$SYS/broker/messages/received'), '20');
  assert.equal(first.get('$SYS/broker/messages/sent'), '40');
  assert.equal(first.get('$SYS/broker/subscriptions/count'), '3');
  assert.equal(first.get('$SYS/broker/retained messages/count'), '5');
  assert.equal(first.get('$SYS/broker/load/messages/received/1min'), nextLoad(0, 120, 10, 60).toFixed(2));
  assert.equal(first.get('$SYS/broker/load/connections/15min'), nextLoad(0, 12, 10, 900).toFixed(2));
  const counters = ['uptime', 'clients/connected', 'clients/maximum', 'messages/received', 'messages/sent', 'publish/messages/received', 'publish/messages/sent', 'bytes/received', 'bytes/sent', 'subscriptions/count', 'retained messages/count'];
  const loads = ['messages/received', 'messages/sent', 'publish/received', 'publish/sent', 'bytes/received', 'bytes/sent', 'connections', 'sockets'].flatMap((n) => ['1min', '5min', '15min'].map((w) => `load/${n}/${w}`));
  assert.deepEqual([...first.keys()].sort(), [...counters, ...loads].map((n) => `$SYS/broker/${n}`).sort());

  now += 10_000; // nothing happened: only uptime and the decaying loads change
  await tree.tick();
  const second = new Map(sent.splice(0));
  assert.equal(second.get('$SYS/broker/uptime'), '20 seconds');
  assert.equal(second.has('$SYS/broker/messages/received'), false);
  assert.equal(second.has('$SYS/broker/clients/connected'), false);
  assert.ok(Number(second.get('$SYS/broker/load/messages/received/1min')) < Number(first.get('$SYS/broker/load/messages/received/1min')));
});
