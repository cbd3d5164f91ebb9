import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { deviceKind } from '../../src/readings/kinds.js';
import { readTarget } from '../../src/readings/device.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { OwfsMountSource } from '../../src/sources/owfs-mount.js';
import type { ReadResult } from '../../src/readings/read-result.js';
import { FIXTURES, fixtureWorkspace, startCli, type AgentProcess } from '../helpers/agent-process.js';
import { checkSensorDiscovery } from '../helpers/ha-schema.js';
import { fuseUnusable, mountOwfs } from '../helpers/owfs-fuse.js';
import { haveMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { subscribe, type SubMessage, type Subscriber } from '../helpers/mqtt-sub.js';
import { haveOwserver, owdir, startOwserver, type Owserver } from '../helpers/owserver.js';
import { until } from '../helpers/until.js';

/**
 * The DS2438 and the DS2401 end to end: the real CLI on a copy of the fixture w1 tree
 * and a real owserver (`--fake` random DS2438 values and DS2401, `--tester` fixed ones),
 * publishing to a real mosquitto, watched by a real mosquitto_sub. The DS2401s are
 * taken away and brought back: `offline`/`online`, retained, once per change.
 */

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const noOwserver = !haveOwserver() && 'owserver / ow-shell not installed';

/** Ids given to --fake (its values are random); --tester names its own devices (26.000026D90000). */
const FAKE_DS2438 = '26.AABBCC000001';
const FAKE_DS2401 = '01.AABBCC000002';
/** The w1 fixture's DS2401 and its mapped topic. */
const IBUTTON = '01-0000efbeadde';
const IBUTTON_TOPIC = 'home/door/ibutton';
const KEY_TOPIC = 'home/owserver/key';

type Log = Record<string, unknown>;

const on = (sub: Subscriber, topic: string): SubMessage[] => sub.retainedLines.filter((m) => m.topic === topic);

/**
 * --temperature_low/high keep the fake DS2438's temperature inside its −40…85 °C; its VAD
 * and VDD stay random 0…100 "V", mostly beyond what the chip can measure (0…10.23 V).
 */
function startFakes(opts: { port?: number; ds2401: boolean }): Promise<Owserver> {
  return startOwserver({
    fake: [FAKE_DS2438, ...(opts.ds2401 ? [FAKE_DS2401] : [])],
    tester: ['26'],
    extra: ['--temperature_low=15', '--temperature_high=30'],
    ...(opts.port === undefined ? {} : { port: opts.port }),
  });
}

test(
  'DS2438 and DS2401 through the kernel tree and a real owserver: humidity, voltage and presence topics; presence changes once each way',
  { timeout: 240_000, skip: noMosquitto || noOwserver },
  async (t: TestContext) => {
    const ws = await fixtureWorkspace();
    t.after(() => ws.cleanup());
    let owserver = await startFakes({ ds2401: true });
    const owPort = owserver.port;
    t.after(() => owserver.stop());
    const broker = await startMosquitto();
    t.after(() => broker.stop());

    // The tester's DS2438 id, as owdir lists it.
    const tester = owdir(owPort).find((e) => /^\/26\.0000/.test(e))?.slice(1);
    assert.ok(tester, `no --tester DS2438 in ${owdir(owPort).join(' ')}`);
    assert.ok(owdir(owPort).includes(`/${FAKE_DS2401}`));

    const file = await ws.writeConfig(
      stringify({
        mqtt: { url: `mqtt://127.0.0.1:${broker.port}`, client_id: 'w1mqtt-kinds' },
        sources: [
          { type: 'w1', path: ws.w1 },
          { type: 'owserver', port: owPort, timeout: '2s' },
        ],
        interval: '1s',
        sensors: {
          '26-000000019a3b': { name: 'Bathroom', topic: 'home/bath/temperature', humidity: 'home/bath/humidity', voltage: { topic: 'home/bath/vad' }, vdd: false },
          [IBUTTON]: IBUTTON_TOPIC,
          [FAKE_DS2401]: { presence: { topic: KEY_TOPIC } },
        },
      }),
    );
    const sub = await subscribe({ port: broker.port, topics: ['home/#'] });
    t.after(() => sub.stop());
    const agent: AgentProcess = startCli(['run', '--config', file]);
    t.after(async () => void (await agent.stop('SIGKILL')));
    await agent.waitForLog((l) => l['msg'] === 'running', 30_000);

    // The kernel's DS2438 (fixtures/w1: 5592/256 °C, VAD 2.35 V, VDD 4.98 V): each measurement on its topic.
    for (const [topic, payload] of [
      ['home/bath/temperature', '21.84'],
      ['home/bath/humidity', '49.8'],
      ['home/bath/vad', '2.35'],
      [IBUTTON_TOPIC, 'online'],
      [`home/1wire/${tester}/temperature`, '3.80'],
      [`home/1wire/${tester}/humidity`, '3.8'],
      [`home/1wire/${tester}/voltage`, '3.80'],
      [`home/1wire/${tester}/vdd`, '3.80'],
      [KEY_TOPIC, 'online'],
    ]) {
      assert.equal((await sub.waitFor((m) => m.topic === topic, 30_000)).payload, payload, topic);
    }
    // The fake DS2438: random values, each published only when the chip could have measured it.
    await until(() => `fake DS2438 humidity and temperature:\n${sub.lines.join('\n')}`, () => on(sub, `home/1wire/${FAKE_DS2438}/humidity`).length >= 3 && on(sub, `home/1wire/${FAKE_DS2438}/temperature`).length >= 3, 30_000);
    for (const m of on(sub, `home/1wire/${FAKE_DS2438}/humidity`)) assert.match(m.payload, /^\d{1,3}\.\d$/);
    for (const m of on(sub, `home/1wire/${FAKE_DS2438}/temperature`)) assert.ok(Number(m.payload) >= 15 && Number(m.payload) <= 30, m.payload);
    const outOfRange = await agent.waitForLog((l) => l['sensor'] === `${FAKE_DS2438}/voltage` && l['code'] === 'out_of_range', 30_000);
    assert.match(String(outOfRange['msg']), /V is outside the sensor's 0…10\.23 V range/);
    for (const m of [...on(sub, `home/1wire/${FAKE_DS2438}/voltage`), ...on(sub, `home/1wire/${FAKE_DS2438}/vdd`)]) {
      assert.ok(Number(m.payload) >= 0 && Number(m.payload) <= 10.23, `published an impossible voltage ${m.payload}`);
    }
    assert.deepEqual(on(sub, 'home/1wire/26-000000019a3b/vdd'), [], 'vdd: false publishes nothing');
    assert.deepEqual(on(sub, 'home/1wire/26-000000019a3b/temperature'), [], 'the mapped topic replaces the default one');

    // Many polls later, presence has still been said once.
    await until('five more kernel DS2438 readings', () => on(sub, 'home/bath/humidity').length >= 6, 30_000);
    assert.deepEqual(on(sub, IBUTTON_TOPIC).map((m) => m.payload), ['online']);
    assert.deepEqual(on(sub, KEY_TOPIC).map((m) => m.payload), ['online']);

    // The iButton taken off the reader: the kernel removes the slave; `offline`, retained, once.
    await rm(join(ws.w1, IBUTTON));
    await rm(join(ws.w1, 'w1_bus_master1', IBUTTON), { recursive: true });
    await sub.waitFor((m) => m.topic === IBUTTON_TOPIC && m.payload === 'offline', 15_000);
    const gone = await agent.waitForLog((l) => l['msg'] === 'device gone' && l['sensor'] === IBUTTON);
    assert.equal(gone['topic'], IBUTTON_TOPIC);
    const late = await subscribe({ port: broker.port, topics: ['home/door/#'] });
    t.after(() => late.stop());
    assert.deepEqual(await late.waitFor((m) => m.topic === IBUTTON_TOPIC), { retained: true, topic: IBUTTON_TOPIC, payload: 'offline' });
    await late.stop();

    // And back: `online` once more.
    await cp(join(FIXTURES, 'w1/devices/w1_bus_master1', IBUTTON), join(ws.w1, 'w1_bus_master1', IBUTTON), { recursive: true });
    await symlink(`w1_bus_master1/${IBUTTON}`, join(ws.w1, IBUTTON));
    await until(() => `${IBUTTON_TOPIC} online again:\n${sub.lines.join('\n')}`, () => on(sub, IBUTTON_TOPIC).length >= 3, 40_000);
    assert.deepEqual(on(sub, IBUTTON_TOPIC).map((m) => m.payload), ['online', 'offline', 'online']);

    // owserver restarted without its DS2401: while it is down nothing is said about the key
    // (unknown is not offline); once it answers without the device, `offline`.
    await owserver.kill();
    await agent.waitForLog((l) => l['source'] === `owserver:127.0.0.1:${owPort}` && l['msg'] === 'cannot list devices of source (bus master gone?)', 30_000);
    // Three more polls of the kernel bus: the key (same 1 s interval) has been polled, and failed, meanwhile.
    const polled = on(sub, 'home/bath/humidity').length;
    await until('three more kernel readings while owserver is down', () => on(sub, 'home/bath/humidity').length >= polled + 3, 20_000);
    assert.deepEqual(on(sub, KEY_TOPIC).map((m) => m.payload), ['online'], 'an unreachable owserver is not an absent key');
    owserver = await startFakes({ port: owPort, ds2401: false });
    await sub.waitFor((m) => m.topic === KEY_TOPIC && m.payload === 'offline', 30_000);
    assert.deepEqual(on(sub, KEY_TOPIC).map((m) => m.payload), ['online', 'offline']);
    assert.ok(!agent.logs.some((l: Log) => l['msg'] === 'sensor vanished from its bus' && String(l['sensor']).startsWith('01')), 'a DS2401 leaving is presence, not a fault');
    assert.equal(await agent.stop(), 0);
  },
);

test('the owfs mount source over a real owfs FUSE mount: DS2438 properties and DS2401 presence', { timeout: 60_000, skip: noOwserver || fuseUnusable() }, async (t) => {
  const server = await startFakes({ ds2401: true });
  t.after(() => server.stop());
  const mount = await mountOwfs(server.port);
  t.after(() => mount.unmount());
  const source = new OwfsMountSource({ path: mount.path, uncached: true });
  const devices = await source.list();
  const tester = devices.find((d) => d.name.startsWith('26.0000')) ?? assert.fail(devices.map((d) => d.name).join(' '));
  const read = async (name: string): Promise<Record<string, ReadResult>> => {
    const device = devices.find((d) => d.name === name) ?? assert.fail(`no ${name} in the mount`);
    const out: Record<string, ReadResult> = {};
    for (const m of deviceKind(device.id.family)?.measurements ?? []) out[m.name] = await source.read(readTarget(device, m));
    return out;
  };
  // --tester=26 answers 3.8 for every property (owfs 3.2p4).
  assert.deepEqual(await read(tester.name), { temperature: { ok: true, milli: 3_800 }, humidity: { ok: true, milli: 3_800 }, voltage: { ok: true, milli: 3_800 }, vdd: { ok: true, milli: 3_800 } });
  const fake = await read(FAKE_DS2438);
  assert.ok(fake['humidity']?.ok && fake['temperature']?.ok, JSON.stringify(fake));
  assert.deepEqual(await read(FAKE_DS2401), { presence: { ok: true, milli: 1000 } });
  // A DS2401 that is not on the bus: OWFS has no directory for it, so it reads as absent.
  const absent = parseDeviceId('01.AABBCC0000FF') ?? assert.fail();
  const [presence] = deviceKind('01')?.measurements ?? [];
  assert.ok(presence);
  assert.deepEqual(await source.read(readTarget({ id: absent, name: absent.owfs, bus: source.name, chip: 'DS2401' }, presence)), { ok: true, milli: 0 });
});

test('live reload of a DS2438 entry: a measurement moved and one turned off clear their old retained topics; the rest goes on', { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const config = (bathroom: Record<string, unknown>) =>
    stringify({ broker: { port }, sources: [{ type: 'w1', path: ws.w1 }], interval: '1s', unmapped: 'ignore', sensors: { '26-000000019a3b': bathroom } });
  const file = await ws.writeConfig(config({ topic: 'home/bath/temperature', humidity: 'home/bath/humidity', vdd: 'home/bath/vdd' }));
  const agent = startCli(['run', '--config', file]);
  t.after(async () => void (await agent.stop('SIGKILL')));
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 30_000);
  const sub = await subscribe({ port, topics: ['home/#'] });
  t.after(() => sub.stop());
  for (const [topic, payload] of [['home/bath/humidity', '49.8'], ['home/bath/vdd', '4.98'], ['home/1wire/26-000000019a3b/voltage', '2.35']]) {
    assert.equal((await sub.waitFor((m) => m.topic === topic, 20_000)).payload, payload, topic);
  }

  await writeFile(file, config({ topic: 'home/bath/temperature', humidity: { topic: 'home/bathroom/humidity', offset: 1.5 }, vdd: false }));
  const reloaded = await agent.waitForLog((l) => String(l['msg']).startsWith('config reloaded'), 20_000);
  assert.match(String(reloaded['msg']), /sensors \+0 -0 ~1 \(26-000000019a3b: humidity\+vdd\)/);
  await sub.waitFor((m) => m.topic === 'home/bath/humidity' && m.payload === '', 20_000);
  await sub.waitFor((m) => m.topic === 'home/bath/vdd' && m.payload === '', 20_000);
  assert.equal((await sub.waitFor((m) => m.topic === 'home/bathroom/humidity', 20_000)).payload, '51.3', 'offset 1.5 %RH added');
  const temperatures = on(sub, 'home/bath/temperature').length;
  await until('the temperature still published', () => on(sub, 'home/bath/temperature').length >= temperatures + 2, 20_000);
  const cleared = on(sub, 'home/bath/vdd').length;
  await until('two more humidity readings', () => on(sub, 'home/bathroom/humidity').length >= 3, 20_000);
  assert.equal(on(sub, 'home/bath/vdd').length, cleared, 'vdd: false publishes nothing more');
  assert.equal(await agent.stop(), 0);
});

test('Home Assistant discovery through mosquitto: the DS2438 as one device with four entities HA accepts, the DS2401 as a presence binary_sensor', { timeout: 90_000, skip: noMosquitto }, async (t) => {
  const broker = await startMosquitto();
  t.after(() => broker.stop());
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const file = await ws.writeConfig(
    stringify({
      mqtt: { url: `mqtt://127.0.0.1:${broker.port}`, client_id: 'w1mqtt-ha-kinds', payload: 'json' },
      homeassistant: { enabled: true },
      sources: [{ type: 'w1', path: ws.w1 }],
      interval: '1s',
      unmapped: 'ignore',
      sensors: { '26-000000019a3b': { name: 'Bathroom', humidity: 'home/bath/humidity' }, [IBUTTON]: { name: 'Front door key', topic: IBUTTON_TOPIC } },
    }),
  );
  const sub = await subscribe({ port: broker.port, topics: ['homeassistant/#', 'home/#'] });
  t.after(() => sub.stop());
  const agent = startCli(['run', '--config', file]);
  t.after(async () => void (await agent.stop('SIGKILL')));

  const rom = (sysfs: string) => Buffer.from(parseDeviceId(sysfs)?.rom ?? []).toString('hex');
  const configOf = async (topic: string) => JSON.parse((await sub.waitFor((m) => m.topic === topic && m.payload !== '', 30_000)).payload) as Record<string, unknown>;
  const entities: [string, string, string][] = [
    ['temperature', 'temperature', 'home/1wire/26-000000019a3b/temperature'],
    ['humidity', 'humidity', 'home/bath/humidity'],
    ['voltage', 'voltage', 'home/1wire/26-000000019a3b/voltage'],
    ['vdd', 'voltage', 'home/1wire/26-000000019a3b/vdd'],
  ];
  for (const [name, deviceClass, state] of entities) {
    const topic = `homeassistant/sensor/1wire_${rom('26-000000019a3b')}_${name}/config`;
    const c = await configOf(topic);
    assert.deepEqual(checkSensorDiscovery(topic, JSON.stringify(c)), [], topic);
    assert.deepEqual([c['device_class'], c['state_topic'], (c['device'] as { name: string }).name], [deviceClass, state, 'Bathroom'], topic);
    // The value HA's template picks out is in what the agent publishes on that topic.
    const reading = JSON.parse((await sub.waitFor((m) => m.topic === state, 20_000)).payload) as Record<string, unknown>;
    assert.equal(typeof reading[deviceClass], 'number', `${state}: ${JSON.stringify(reading)}`);
    assert.equal(c['value_template'], `{{ value_json.${deviceClass} }}`);
  }
  const key = await configOf(`homeassistant/binary_sensor/1wire_${rom(IBUTTON)}_presence/config`);
  assert.deepEqual([key['device_class'], key['payload_on'], key['payload_off'], key['state_topic']], ['presence', 'online', 'offline', IBUTTON_TOPIC]);
  assert.deepEqual(JSON.parse((await sub.waitFor((m) => m.topic === IBUTTON_TOPIC, 20_000)).payload)['presence'], 'online');
  assert.equal(await agent.stop(), 0);
});
