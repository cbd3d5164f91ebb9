import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceKind, hihHumidity, type Measurement, type MeasurementName } from '../../src/readings/kinds.js';
import { readTarget } from '../../src/readings/device.js';
import { judge } from '../../src/sources/measured-values.js';
import { valueFromOwfsText } from '../../src/sources/owfs-value.js';
import { FLAG, MSG } from '../../src/sources/owserver-protocol.js';
import { OwfsMountSource } from '../../src/sources/owfs-mount.js';
import { OwserverSource } from '../../src/sources/owserver.js';
import type { ReadResult } from '../../src/readings/read-result.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';
import { W1SysfsSource } from '../../src/sources/w1-sysfs.js';
import { answer, startFakeOwserver } from '../helpers/fake-owserver.js';

/** The DS2438 and DS2401 through every source: the fixture trees and an in-process owserver. */

const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;
const T = { timeout: 20_000 };

function measurement(family: string, name: MeasurementName): Measurement {
  return deviceKind(family)?.measurements.find((m) => m.name === name) ?? assert.fail(`${family} has no ${name}`);
}

/** Every measurement of `name` as the plan would read it. */
async function readAll(source: Source, name: string): Promise<Record<string, ReadResult>> {
  const device = (await source.list()).find((d) => d.name === name) ?? assert.fail(`${source.name} does not list ${name}`);
  const out: Record<string, ReadResult> = {};
  for (const m of deviceKind(device.id.family)?.measurements ?? []) out[m.name] = await source.read(readTarget(device, m));
  return out;
}

async function copy(t: { after(fn: () => Promise<void>): void }, tree: 'w1' | 'owfs'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-kinds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(FIXTURES, tree), join(dir, tree), { recursive: true, verbatimSymlinks: true });
  return join(dir, tree);
}

const DS2438 = { temperature: { ok: true, milli: 21_844 }, humidity: { ok: true, milli: 49_831 }, voltage: { ok: true, milli: 2_350 }, vdd: { ok: true, milli: 4_980 } };

test('registry: the kinds, their measurements, units and topic suffixes', () => {
  const names = (family: string) => deviceKind(family)?.measurements.map((m) => `${m.name}:${m.quantity}:${m.unit}:${m.suffix}`);
  for (const f of ['10', '22', '28', '3B', '42']) assert.deepEqual(names(f), ['temperature:temperature:°C:temperature'], f);
  assert.deepEqual(names('26'), ['temperature:temperature:°C:temperature', 'humidity:humidity:%:humidity', 'voltage:voltage:V:voltage', 'vdd:voltage:V:vdd']);
  assert.deepEqual(names('01'), ['presence:presence::presence']);
  assert.equal(deviceKind('29'), undefined, 'a DS2408 is not read');
  // ow_2438.c FS_Humid at the fixture's values, and 0.8 V (0 % on an HIH) at 25 °C.
  assert.equal(hihHumidity(2.35, 4.98, 21.84375).toPrecision(6), '49.8312');
  assert.ok(Math.abs(hihHumidity(0.8, 5, 25)) < 1e-12);
});

test('registry: a DS18x20 is read as it always was; other kinds carry their measurement', () => {
  const thermometer: Device = { id: { family: '28', sysfs: '28-0316a2792dff', owfs: '28.FF2D79A21603', rom: new Uint8Array(8) }, name: '28-0316a2792dff', bus: 'b', chip: 'DS18B20' };
  assert.equal(readTarget(thermometer, measurement('28', 'temperature')), thermometer, 'the same object: no new field on the thermometer path');
  const ds2438 = { ...thermometer, id: { ...thermometer.id, family: '26' } };
  assert.equal(readTarget(ds2438, measurement('26', 'vdd')).measurement?.name, 'vdd');
  assert.equal(readTarget(ds2438, measurement('26', 'temperature')).measurement?.name, 'temperature', 'a DS2438 temperature is not a w1_slave');
});

test('values: ranges per kind, with the unit in the fault; OWFS text trimmed or padded', () => {
  assert.deepEqual(judge(measurement('26', 'voltage'), 10.24), { ok: false, error: { code: 'out_of_range', milli: 10_240, unit: 'V', min: 0, max: 10.23 } });
  assert.deepEqual(judge(measurement('26', 'temperature'), 86), { ok: false, error: { code: 'out_of_range', milli: 86_000, unit: '°C', min: -40, max: 85 } });
  assert.deepEqual(judge(measurement('26', 'humidity'), 102.4), { ok: true, milli: 102_400 }, 'a little over 100 % is an HIH tolerance');
  assert.equal(judge(measurement('26', 'humidity'), -25.8).ok, false, 'an open VAD input (0 V) is no humidity');
  assert.deepEqual(valueFromOwfsText('     7.80984', measurement('26', 'vdd')), { ok: true, milli: 7_810 });
  assert.deepEqual(valueFromOwfsText('', measurement('26', 'vdd')), { ok: false, error: { code: 'empty_read' } });
  assert.deepEqual(valueFromOwfsText('n/a', measurement('26', 'vdd')), { ok: false, error: { code: 'parse_error', raw: 'n/a' } });
});

test('w1: the DS2438 from its kernel attributes (humidity computed like OWFS), the DS2401 by its directory', T, async (t) => {
  const w1 = await copy(t, 'w1');
  const source = new W1SysfsSource({ path: join(w1, 'devices') });
  assert.deepEqual(await readAll(source, '26-000000019a3b'), DS2438);
  assert.deepEqual(await readAll(source, '01-0000efbeadde'), { presence: { ok: true, milli: 1000 } });
  const [ds2401] = (await source.list()).filter((d) => d.name === '01-0000efbeadde');
  assert.ok(ds2401);

  // The iButton taken away: the kernel removes the slave (link and directory).
  await rm(join(w1, 'devices', '01-0000efbeadde'));
  await rm(join(w1, 'devices/w1_bus_master1/01-0000efbeadde'), { recursive: true });
  assert.deepEqual(await source.read(readTarget(ds2401, measurement('01', 'presence'))), { ok: true, milli: 0 });
  // The whole bus gone (w1-gpio unloaded) is a fault, not news about the iButton.
  const moved = join(w1, 'moved');
  await cp(join(w1, 'devices'), moved, { recursive: true, verbatimSymlinks: true });
  await rm(join(w1, 'devices'), { recursive: true });
  const busGone = await source.read(readTarget(ds2401, measurement('01', 'presence')));
  assert.ok(!busGone.ok && busGone.error.code === 'io_error', JSON.stringify(busGone));
  await cp(moved, join(w1, 'devices'), { recursive: true, verbatimSymlinks: true });

  // Faults of the kernel attributes: empty, not a number, out of range, and a failing read.
  const dir = join(w1, 'devices/w1_bus_master2/26-000000019a3b');
  const vdd = (await source.list()).find((d) => d.name === '26-000000019a3b') ?? assert.fail();
  const read = (name: MeasurementName) => source.read(readTarget(vdd, measurement('26', name)));
  await writeFile(join(dir, 'vdd'), '');
  assert.deepEqual(await read('vdd'), { ok: false, error: { code: 'empty_read' } });
  assert.deepEqual(await read('humidity'), { ok: false, error: { code: 'empty_read' } }, 'humidity needs vdd too');
  await writeFile(join(dir, 'vdd'), 'x\n');
  assert.deepEqual(await read('vdd'), { ok: false, error: { code: 'parse_error', raw: 'x\n' } });
  await writeFile(join(dir, 'vad'), '1100\n');
  assert.deepEqual(await read('voltage'), { ok: false, error: { code: 'out_of_range', milli: 11_000, unit: 'V', min: 0, max: 10.23 } });
  await writeFile(join(dir, 'temperature'), '-2560\n'); // "%i" of a negative register: −10 °C
  assert.deepEqual(await read('temperature'), { ok: true, milli: -10_000 });
  await rm(join(dir, 'vad'));
  await mkdir(join(dir, 'vad')); // read() fails like the kernel's EIO, with another errno
  const failed = await read('voltage');
  assert.ok(!failed.ok && failed.error.code === 'io_error' && failed.error.errno === 'EISDIR', JSON.stringify(failed));
});

test('owfs mount: the DS2438 properties and the DS2401 by its directory', T, async (t) => {
  const owfs = await copy(t, 'owfs');
  const source = new OwfsMountSource({ path: owfs, uncached: true });
  assert.deepEqual(await readAll(source, '26.3B9A01000000'), DS2438);
  assert.deepEqual(await readAll(source, '01.DEADBEEF0000'), { presence: { ok: true, milli: 1000 } });
  const [ds2401] = (await source.list()).filter((d) => d.name === '01.DEADBEEF0000');
  assert.ok(ds2401);
  await rm(join(owfs, 'uncached', '01.DEADBEEF0000'), { recursive: true });
  assert.deepEqual(await source.read(readTarget(ds2401, measurement('01', 'presence'))), { ok: true, milli: 0 });
});

test('owserver: DS2438 properties uncached and trimmed; DS2401 presence by PRESENCE', T, async (t) => {
  const values: Record<string, string> = { temperature: '21.8438', humidity: '49.8312', VAD: '2.35', VDD: '4.98' };
  let present = true;
  const server = await startFakeOwserver((req, socket) => {
    const property = /^\/uncached\/26\.3B9A01000000\/(\w+)$/.exec(req.path)?.[1];
    if (req.type === MSG.read && property && values[property] !== undefined) socket.write(answer({ ret: values[property].length, flags: FLAG.persistent, body: values[property] }));
    else if (req.type === MSG.presence && req.path === '/01.DEADBEEF0000' && present) socket.write(answer({ ret: 0, flags: FLAG.persistent, body: Buffer.from('01deadbeef000029', 'hex') }));
    else if (req.type === MSG.dirall) socket.write(answer({ ret: 0, flags: FLAG.persistent, body: '/26.3B9A01000000,/01.DEADBEEF0000,/bus.0\0' }));
    else socket.write(answer({ ret: -1, flags: FLAG.persistent }));
  });
  t.after(() => server.close());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 2_000, uncached: true });
  t.after(() => source.close());
  assert.deepEqual(await readAll(source, '26.3B9A01000000'), DS2438);
  assert.deepEqual(await readAll(source, '01.DEADBEEF0000'), { presence: { ok: true, milli: 1000 } });
  present = false;
  assert.deepEqual(await readAll(source, '01.DEADBEEF0000'), { presence: { ok: true, milli: 0 } });
  const presence = server.requests.filter((r) => r.type === MSG.presence);
  assert.ok(presence.every((r) => r.path === '/01.DEADBEEF0000' && (r.flags & FLAG.uncached) !== 0), 'PRESENCE asks the bus, not the 120 s cache');
  assert.deepEqual(
    server.requests.filter((r) => r.type === MSG.read).map((r) => [r.path, r.flags & FLAG.trim]),
    ['temperature', 'humidity', 'VAD', 'VDD'].map((p) => [`/uncached/26.3B9A01000000/${p}`, FLAG.trim]),
  );

  const ds2401 = (await source.list()).find((d) => d.name === '01.DEADBEEF0000') ?? assert.fail();
  await server.close();
  const down = await source.read(readTarget(ds2401, measurement('01', 'presence')));
  assert.ok(!down.ok && down.error.code === 'io_error', `a server that is gone is a fault, not "offline": ${JSON.stringify(down)}`);
});
