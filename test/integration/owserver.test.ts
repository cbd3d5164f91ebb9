import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { OwfsMountSource } from '../../src/sources/owfs-mount.js';
import { OwserverSource, probeOwserver } from '../../src/sources/owserver.js';
import { detectSources } from '../../src/sources/registry.js';
import type { ReadResult } from '../../src/readings/read-result.js';
import type { Device } from '../../src/readings/device.js';
import { fuseUnusable, mountOwfs } from '../helpers/owfs-fuse.js';
import { haveOwserver, owdir, startOwserver } from '../helpers/owserver.js';
import { waitFor } from '../helpers/until.js';

const noOwserver = !haveOwserver() && 'owserver / ow-shell not installed';
const T = { timeout: 60_000, skip: noOwserver };

const FAKE = ['28.FF2D79A21603', '10.C3A1B4020800', '22.A1E853000000'];
const TESTER = ['28', '10', '22'];
/** owserver 3.2p4 --tester=28,10,22: fixed ids and values (checked with owdir/owread). */
const TESTER_VALUES: Record<string, number> = { '28.000028D70000': 4000, '10.000010EF0100': 1700, '22.000022DD0200': 3600 };
const ALL = [...FAKE, ...Object.keys(TESTER_VALUES)].sort();

function byName(devices: Device[], name: string): Device {
  const d = devices.find((x) => x.name === name);
  assert.ok(d, `${name} not in ${devices.map((x) => x.name).join(', ')}`);
  return d;
}

function assertFakeValue(name: string, r: ReadResult): void {
  // owserver's default fake range is 0…100 °C (--temperature_low/high).
  assert.ok(r.ok, `${name}: ${JSON.stringify(r)}`);
  assert.ok(r.milli >= 0 && r.milli <= 100_000, `${name}: ${r.milli}`);
}

test('owserver source: lists the same thermometers as owdir and reads fake and tester values', T, async (t) => {
  const server = await startOwserver({ fake: FAKE, tester: TESTER });
  t.after(() => server.stop());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000, uncached: true });
  t.after(() => source.close());

  const devices = await source.list();
  assert.deepEqual(devices.map((d) => d.name), ALL);
  const reference = owdir(server.port).map((e) => e.replace(/^\//, '')).filter((e) => parseDeviceId(e) !== undefined);
  assert.deepEqual(devices.map((d) => d.name), reference.sort(), 'same devices as ow-shell owdir');
  assert.equal(byName(devices, '28.FF2D79A21603').id.sysfs, '28-0316a2792dff');
  assert.equal(byName(devices, '10.C3A1B4020800').chip, 'DS18S20');
  assert.ok(devices.every((d) => d.bus === `owserver:127.0.0.1:${server.port}`), 'one bus per owserver');

  for (const [name, milli] of Object.entries(TESTER_VALUES)) assert.deepEqual(await source.read(byName(devices, name)), { ok: true, milli }, name);
  for (const name of FAKE) assertFakeValue(name, await source.read(byName(devices, name)));
});

test('owserver source: a missing device is not_present; simultaneous conversion is accepted', T, async (t) => {
  const server = await startOwserver({ tester: TESTER });
  t.after(() => server.stop());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000, uncached: true });
  t.after(() => source.close());
  const missingId = parseDeviceId('28.000000000001');
  assert.ok(missingId);
  const missing: Device = { id: missingId, name: missingId.owfs, bus: source.name, chip: 'DS18B20' };
  assert.deepEqual(await source.read(missing), { ok: false, error: { code: 'not_present' } });
  assert.deepEqual(await source.convertAll(source.name), { ok: true });
  const devices = await source.list();
  assert.deepEqual(await source.read(byName(devices, '28.000028D70000')), { ok: true, milli: 4000 });
});

test('owserver source: killed mid-run and restarted on the same port, it recovers by itself', T, async (t) => {
  let server = await startOwserver({ tester: TESTER });
  const port = server.port;
  t.after(() => server.stop());
  const source = new OwserverSource({ host: '127.0.0.1', port, timeoutMs: 2_000, uncached: true });
  t.after(() => source.close());
  const device = byName(await source.list(), '28.000028D70000');
  assert.deepEqual(await source.read(device), { ok: true, milli: 4000 });

  await server.kill();
  const down = await source.read(device);
  assert.ok(!down.ok && down.error.code === 'io_error' && ['ECONNREFUSED', 'ECONNRESET'].includes(down.error.errno), JSON.stringify(down));
  await assert.rejects(source.list(), /nothing listens on 127\.0\.0\.1:\d+: is owserver running/);

  server = await startOwserver({ tester: TESTER, port });
  const back = await waitFor(
    'a good reading after the restart',
    async () => {
      const r = await source.read(device);
      return r.ok ? r : undefined;
    },
    30_000,
    100,
  );
  assert.deepEqual(back, { ok: true, milli: 4000 });
  assert.ok((await source.list()).length === 3);
});

test('owserver source: an idle connection does not keep a SIGTERMed owserver alive', T, async (t) => {
  const server = await startOwserver({ tester: TESTER });
  t.after(() => server.stop());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000, uncached: true });
  t.after(() => source.close());
  assert.equal((await source.list()).length, 3); // the connection is open now
  // owserver keeps serving persistent clients after SIGTERM and exits once they hang
  // up; the source closes an idle connection after 2 s, so it must exit on its own.
  process.kill(server.pid, 'SIGTERM');
  const outcome = await Promise.race([server.exited.then(() => 'exited'), sleep(20_000, 'still running', { ref: false })]);
  assert.equal(outcome, 'exited', server.log());
});

test('auto-detect leaves out a real owserver that only simulates devices (Debian\'s stock FAKE config)', T, async (t) => {
  const server = await startOwserver({ fake: ['DS18S20', 'DS2405'], tester: ['28'] });
  t.after(() => server.stop());
  assert.equal(await probeOwserver('127.0.0.1', server.port), 'simulated');
  assert.deepEqual(await detectSources('/nonexistent-root', { host: '127.0.0.1', port: server.port }), []);
  await server.stop();
  assert.equal(await probeOwserver('127.0.0.1', server.port), 'absent');
});

const fuseSkip = noOwserver || fuseUnusable();

test('owfs mount source over a real owfs FUSE mount of that owserver', { timeout: 60_000, skip: fuseSkip }, async (t) => {
  const server = await startOwserver({ fake: FAKE, tester: TESTER });
  t.after(() => server.stop());
  let mount;
  try {
    mount = await mountOwfs(server.port);
  } catch (err) {
    // As root with /dev/fuse present the mount must work; otherwise this was the trial mount.
    if (process.getuid?.() === 0) throw err;
    t.skip(`FUSE mount not permitted for uid ${process.getuid?.()}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return;
  }
  t.after(() => mount.unmount());
  assert.equal(mount.type, 'fuse.OWFS');

  const source = new OwfsMountSource({ path: mount.path, uncached: true });
  const devices = await source.list();
  assert.deepEqual(devices.map((d) => d.name), ALL);
  for (const [name, milli] of Object.entries(TESTER_VALUES)) assert.deepEqual(await source.read(byName(devices, name)), { ok: true, milli }, name);
  for (const name of FAKE) assertFakeValue(name, await source.read(byName(devices, name)));
  const missingId = parseDeviceId('28.000000000001');
  assert.ok(missingId);
  assert.deepEqual(await source.read({ id: missingId, name: missingId.owfs, bus: source.name, chip: 'DS18B20' }), { ok: false, error: { code: 'not_present' } });
});
