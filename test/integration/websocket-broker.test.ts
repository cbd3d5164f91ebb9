import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';

/**
 * A broker reached over WebSockets, through the installed bundle: the bundle leaves MQTT.js's
 * `ws` out and loads it from beside MQTT.js on first use (src/system/mqtt-lazy-deps.cjs),
 * so this is the path that proves the package is still found and works.
 */
test('the built agent publishes through a ws:// broker URL', { timeout: 30_000, skip: !haveMosquitto() && 'mosquitto / mosquitto-clients not installed' }, async (t) => {
  const broker = await startMosquitto({ websockets: true });
  t.after(() => broker.stop());
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const url = broker.wsUrl ?? assert.fail('no websockets listener');
  const config = await ws.writeConfig(stringify({ mqtt: { url, client_id: 'ws-agent' }, sources: [{ type: 'w1', path: ws.w1 }], interval: '1s', web: { enabled: false } }));
  const sub = await subscribe({ port: broker.port, topics: ['home/#'] });
  t.after(() => sub.stop());
  const agent = startCli(['run', '--config', config], { built: true });
  t.after(() => agent.stop('SIGKILL'));

  const connected = await agent.waitForLog((l) => l['msg'] === 'connected', 15_000);
  assert.equal(connected['url'], url);
  const reading = await sub.waitFor((m) => m.topic.endsWith('/temperature') && /^-?\d+\.\d+$/.test(m.payload), 15_000);
  assert.match(reading.topic, /^home\/1wire\/[0-9a-f]{2}-[0-9a-f]{12}\/temperature$/);
  assert.match(broker.log(), /New client connected from \S+ as ws-agent \(p5,/);
});
