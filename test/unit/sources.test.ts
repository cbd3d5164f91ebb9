import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { OwfsMountSource } from '../../src/sources/owfs-mount.js';
import { detectSources } from '../../src/sources/registry.js';
import { W1SysfsSource } from '../../src/sources/w1-sysfs.js';
import { freePort } from '../helpers/ports.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;

test('w1: lists every device of a known kind with its bus master (thermometers, the DS2438, the DS2401), not the masters', async () => {
  const source = new W1SysfsSource({ path: join(FIXTURES, 'w1/devices') });
  const devices = await source.list();
  const names = devices.map((d) => d.name);
  assert.equal(names.length, 16);
  assert.ok(!names.some((n) => n.startsWith('w1_')));
  assert.equal(devices.find((d) => d.name === '01-0000efbeadde')?.chip, 'DS2401');
  assert.equal(devices.find((d) => d.name === '26-000000019a3b')?.chip, 'DS2438');
  const bus = (n: string) => basename(devices.find((d) => d.name === n)?.bus ?? '');
  assert.equal(bus('28-0316a2792dff'), 'w1_bus_master1');
  assert.equal(bus('42-00000014a7e2'), 'w1_bus_master2');
  assert.equal(devices.find((d) => d.name === '3b-0000001852ad')?.chip, 'DS1825/MAX31850');
});

test('w1: reads values and classifies each fault fixture', async () => {
  const source = new W1SysfsSource({ path: join(FIXTURES, 'w1/devices') });
  const byName = new Map((await source.list()).map((d) => [d.name, d]));
  const read = async (n: string) => {
    const d = byName.get(n);
    assert.ok(d, n);
    return source.read(d);
  };
  assert.deepEqual(await read('28-0316a2792dff'), { ok: true, milli: 23_125 });
  assert.deepEqual(await read('10-000802b4a1c3'), { ok: true, milli: 22_062 });
  const codes: Record<string, string> = {
    '28-01192e4f6a10': 'power_on_reset',
    '28-01192e4f8b27': 'insufficient_power',
    '28-0000072d91f5': 'all_zero',
    '28-0000072d3e08': 'crc_mismatch',
    '28-0316a27b9d52': 'empty_read',
  };
  for (const [name, code] of Object.entries(codes)) {
    const r = await read(name);
    assert.ok(!r.ok && r.error.code === code, `${name}: ${JSON.stringify(r)}`);
  }
});

test('w1: a vanished device is not_present; a missing bus directory makes list() throw', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-src-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(FIXTURES, 'w1'), join(dir, 'w1'), { recursive: true, verbatimSymlinks: true });
  const source = new W1SysfsSource({ path: join(dir, 'w1/devices') });
  const device = (await source.list()).find((d) => d.name === '10-000802b4a1c3');
  assert.ok(device);
  await rm(join(dir, 'w1/devices', device.name));
  await rm(join(dir, 'w1/devices/w1_bus_master1', device.name), { recursive: true, force: true });
  await rm(join(dir, 'w1/devices/w1_bus_master2', device.name), { recursive: true, force: true });
  assert.deepEqual(await source.read(device), { ok: false, error: { code: 'not_present' } });
  const gone = new W1SysfsSource({ path: join(dir, 'nope') });
  await assert.rejects(gone.list(), /ENOENT/);
});

test('owfs: lists devices of known kinds and reads /uncached values, trimmed or padded', async () => {
  const source = new OwfsMountSource({ path: join(FIXTURES, 'owfs'), uncached: true });
  const devices = await source.list();
  assert.deepEqual(devices.map((d) => d.name).sort(), ['01.DEADBEEF0000', '10.C3A1B4020800', '22.A1E853000000', '26.3B9A01000000', '28.441C7AA21603', '28.FF2D79A21603']);
  const by = new Map(devices.map((d) => [d.name, d]));
  const padded = by.get('28.441C7AA21603');
  const trimmed = by.get('28.FF2D79A21603');
  assert.ok(padded && trimmed);
  assert.equal(trimmed.id.sysfs, '28-0316a2792dff');
  assert.deepEqual(await source.read(trimmed), { ok: true, milli: 23_125 });
  assert.deepEqual(await source.read(padded), { ok: true, milli: 25_063 });
});

test('owfs: uncached is read from /uncached, cached from the device dir', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-owfs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(FIXTURES, 'owfs'), dir, { recursive: true });
  await writeFile(join(dir, 'uncached/28.FF2D79A21603/temperature'), '30.5');
  const fresh = new OwfsMountSource({ path: dir, uncached: true });
  const cached = new OwfsMountSource({ path: dir, uncached: false });
  const [d1] = (await fresh.list()).filter((d) => d.name === '28.FF2D79A21603');
  const [d2] = (await cached.list()).filter((d) => d.name === '28.FF2D79A21603');
  assert.ok(d1 && d2);
  assert.deepEqual(await fresh.read(d1), { ok: true, milli: 30_500 });
  assert.deepEqual(await cached.read(d2), { ok: true, milli: 23_125 });
});

test('detectSources finds a sysfs bus and an OWFS mount under a root', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'w1mqtt-root-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const noOwserver = { host: '127.0.0.1', port: await freePort() };
  assert.deepEqual(await detectSources(root, noOwserver), []);
  await cp(join(FIXTURES, 'w1'), join(root, 'sys/bus/w1'), { recursive: true, verbatimSymlinks: true });
  await cp(join(FIXTURES, 'owfs'), join(root, 'mnt/1wire'), { recursive: true });
  const found = await detectSources(root, noOwserver);
  assert.deepEqual(found.map((s) => s.type), ['w1', 'owfs']);
});
