import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireLock, releaseLock } from '../../src/system/lock-file.js';

test('a lock is taken, refused while its holder lives in this boot, taken over when stale', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'lock');
  const alive = new Set([100, 200]);
  const as = (pid: number, boot = 'boot-1') => ({ pid, bootId: () => boot, alive: (p: number) => alive.has(p) });
  assert.deepEqual(acquireLock(file, as(100)), { ok: true });
  assert.equal(await readFile(file, 'utf8'), '100 boot-1\n');
  assert.deepEqual(acquireLock(file, as(200)), { ok: false, holder: 100 });
  assert.deepEqual(acquireLock(file, as(200, 'boot-2')), { ok: true, tookOver: 100 }, 'a PID from before a reboot means nothing');
  alive.delete(200);
  assert.deepEqual(acquireLock(file, as(300, 'boot-2')), { ok: true, tookOver: 200 }, 'a dead holder (SIGKILL) leaves a stale lock');
  releaseLock(file, 999);
  assert.equal(await readFile(file, 'utf8'), '300 boot-2\n', 'only the holder releases it');
  releaseLock(file, 300);
  await assert.rejects(readFile(file), { code: 'ENOENT' });
  await writeFile(file, 'garbage');
  assert.deepEqual(acquireLock(file, as(400)), { ok: true });
});
