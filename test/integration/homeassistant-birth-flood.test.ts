import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';
import { freshReading, watchUsage } from '../helpers/proc-usage.js';

/**
 * Home Assistant's birth message sent 20 000 times in a row through the bundled mosquitto
 * (`yes online | head -20000 | mosquitto_pub -l`): the agent re-announces its discovery a few
 * times at most, logs the burst once, and its readings keep coming. Before coalescing, each
 * `online` republished every config and logged a line.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const KITCHEN = 'home/kitchen/temperature';

test('20 000 Home Assistant birth messages: one re-announce burst, logged once, readings flow, CPU and memory bounded', { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const file = await ws.writeConfig(`
broker: { port: ${port} }
mqtt: { client_id: w1mqtt-births }
web: { enabled: false }
homeassistant: { enabled: true }
sources: [{ type: w1, path: ${ws.w1} }]
interval: 1s
sensors:
  28-0316a2792dff: { topic: ${KITCHEN}, name: Kitchen }
`);
  const agent = startCli(['run', '--config', file], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => agent.stop());
  await agent.waitForLog((l) => l['msg'] === 'connected' && l['module'] === 'mqtt', 30_000);
  const sub = await subscribe({ port, topics: [KITCHEN, 'homeassistant/sensor/#'] });
  t.after(() => sub.stop());
  await freshReading(sub, KITCHEN);
  // The most times any one config came again (the fixture's unmapped sensors have configs too).
  const configs = (): number => {
    const per = new Map<string, number>();
    for (const m of sub.retainedLines) if (m.topic.endsWith('/config') && !m.retained) per.set(m.topic, (per.get(m.topic) ?? 0) + 1);
    return Math.max(0, ...per.values());
  };
  // The fixture's faulty sensors log their own lines meanwhile: only the discovery's count here.
  const notices = (): number => agent.logs.filter((l) => l['module'] === 'homeassistant' && Number(l['level']) >= 30).length;
  const configsBefore = configs();
  const logsBefore = notices();

  const used = watchUsage(agent.pid);
  const flood = spawnSync('sh', ['-c', `yes online | head -20000 | mosquitto_pub -h 127.0.0.1 -p ${port} -l -t homeassistant/status`], { timeout: 30_000 });
  assert.equal(flood.status, 0, String(flood.stderr));
  // Readings go on during the re-announce (1–5 s after the first birth), then it ends and is logged.
  for (let i = 0; i < 3; i++) await freshReading(sub, KITCHEN, 5_000);
  const done = await agent.waitForLog((l) => l['msg'] === 'Home Assistant discovery published again', 20_000);
  await freshReading(sub, KITCHEN, 5_000);
  const { cpuS, peakRssMb, startRssMb } = used.stop();
  const rounds = Number(done['rounds']);
  t.diagnostic(`20 000 births: agent ${cpuS.toFixed(2)} CPU s, RSS ${startRssMb.toFixed(0)} → peak ${peakRssMb.toFixed(0)} MB, ${rounds} re-announce round(s), ${notices() - logsBefore} log lines (discovery, info and above), each config re-received ${configs() - configsBefore} time(s)`);

  assert.ok(Number(done['births']) >= 1 && rounds <= 3, JSON.stringify(done));
  assert.equal(agent.logs.filter((l) => l['msg'] === 'Home Assistant is online: publishing discovery again').length, 1, 'the burst is logged once');
  // Before coalescing: 24 CPU s and +960 MB (the in-process broker), 1.1 CPU s and 1 344 log lines (mosquitto).
  assert.ok(cpuS < 5, `${cpuS} CPU s`);
  assert.ok(peakRssMb - startRssMb < 100, `RSS ${startRssMb} → ${peakRssMb} MB`);
  assert.ok(notices() - logsBefore <= 2, `${notices() - logsBefore} log lines: ${JSON.stringify(agent.logs.filter((l) => l['module'] === 'homeassistant' && Number(l['level']) >= 30).slice(logsBefore).map((l) => `${String(l['module'])}: ${String(l['msg'])}`))}`);
  assert.ok(configs() - configsBefore <= rounds, `each config at most once a round: ${configs() - configsBefore} for ${rounds} rounds`);
  assert.equal(await agent.stop(), 0);
});
