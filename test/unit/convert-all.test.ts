import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IoGate } from '../../src/sampling/io-gate.js';
import { convertFailure } from '../../src/sources/fs-errors.js';
import { OwfsMountSource } from '../../src/sources/owfs-mount.js';
import { W1SysfsSource } from '../../src/sources/w1-sysfs.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname;

async function copy(t: { after: (fn: () => Promise<void>) => void }, sub: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-convert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(FIXTURES, sub), join(dir, sub), { recursive: true, verbatimSymlinks: true });
  return join(dir, sub);
}

test('w1: convertAll writes exactly "trigger\\n" to the master of the bus', { timeout: 10_000 }, async (t) => {
  const w1 = await copy(t, 'w1');
  const source = new W1SysfsSource({ path: join(w1, 'devices') });
  const device = (await source.list()).find((d) => d.name === '22-00000053e8a1');
  assert.ok(device);
  assert.deepEqual(await source.convertAll(device.bus), { ok: true });
  assert.equal(await readFile(join(w1, 'devices', 'w1_bus_master2', 'therm_bulk_read'), 'latin1'), 'trigger\n');
  assert.equal(await readFile(join(w1, 'devices', 'w1_bus_master1', 'therm_bulk_read'), 'latin1'), '0\n', 'the other bus is untouched');
});

test('w1: no therm_bulk_read (kernel < 5.8) is a permanent failure and creates nothing', { timeout: 10_000 }, async (t) => {
  const w1 = await copy(t, 'w1');
  await rm(join(w1, 'devices', 'w1_bus_master1', 'therm_bulk_read'));
  const result = await new W1SysfsSource({ path: join(w1, 'devices') }).convertAll(join(w1, 'devices', 'w1_bus_master1'));
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.permanent, true);
  await assert.rejects(readFile(join(w1, 'devices', 'w1_bus_master1', 'therm_bulk_read')), { code: 'ENOENT' });
});

test('owfs: convertAll writes 1 to simultaneous/temperature', { timeout: 10_000 }, async (t) => {
  const owfs = await copy(t, 'owfs');
  const source = new OwfsMountSource({ path: owfs, uncached: true });
  const [device] = await source.list();
  assert.ok(device);
  assert.deepEqual(await source.convertAll(device.bus), { ok: true });
  assert.equal(await readFile(join(owfs, 'simultaneous', 'temperature'), 'latin1'), '1');
});

test('a refused write is permanent (EACCES, EPERM, EROFS, ENOENT); anything else is tried again next cycle', () => {
  const failure = (code: string) => convertFailure(Object.assign(new Error(code), { code }));
  const permanent = (code: string) => {
    const r = failure(code);
    return !r.ok && r.permanent;
  };
  for (const code of ['EACCES', 'EPERM', 'EROFS', 'ENOENT']) assert.equal(permanent(code), true, code);
  for (const code of ['EIO', 'EINTR', 'EAGAIN']) assert.equal(permanent(code), false, code);
  const r = failure('EROFS');
  assert.deepEqual(!r.ok && r.error, { code: 'io_error', errno: 'EROFS', message: 'EROFS' });
});

test('IoGate: at most `limit` holders, served in arrival order; an aborted waiter leaves the queue', async () => {
  const gate = new IoGate(1);
  const first = await gate.acquire();
  assert.ok(first);
  const order: string[] = [];
  const abort = new AbortController();
  const b = gate.acquire().then((r) => (order.push('b'), r));
  const c = gate.acquire(abort.signal).then((r) => (order.push(r ? 'c' : 'c-aborted'), r));
  const d = gate.acquire().then((r) => (order.push('d'), r));
  abort.abort();
  assert.equal(await c, undefined);
  first();
  (await b)?.();
  (await d)?.();
  assert.deepEqual(order, ['c-aborted', 'b', 'd']);
  assert.equal(gate.inUse, 0);
  assert.throws(() => new IoGate(0), RangeError);
});
