import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SCRYPT, hashPassword, parseScryptHash, verifyPassword } from '../../src/mqtt/passwords.js';

const CHEAP = { N: 1024, r: 8, p: 1 };

test('a hash has the $scrypt$N$r$p$salt$hash form and verifies only the right password', { timeout: 20000 }, async () => {
  const hash = await hashPassword('correct horse', CHEAP);
  assert.match(hash, /^\$scrypt\$1024\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
  assert.equal(await verifyPassword(hash, 'correct horse'), true);
  assert.equal(await verifyPassword(hash, 'correct horsE'), false);
  assert.equal(await verifyPassword(hash, ''), false);
  // Same password, new salt: a different hash.
  assert.notEqual(await hashPassword('correct horse', CHEAP), hash);
});

test('the default cost is RFC 7914 interactive (N=2^14, r=8, p=1) and verifies', { timeout: 20000 }, async () => {
  const hash = await hashPassword('pi', DEFAULT_SCRYPT);
  assert.equal(parseScryptHash(hash)?.N, 16384);
  assert.equal(await verifyPassword(hash, 'pi'), true);
});

test('malformed or unaffordable hashes are refused', { timeout: 5000 }, async () => {
  const salt = Buffer.alloc(16, 1).toString('base64');
  const key = Buffer.alloc(32, 2).toString('base64');
  assert.ok(parseScryptHash(`$scrypt$1024$8$1$${salt}$${key}`));
  for (const bad of ['secret', `$scrypt$1000$8$1$${salt}$${key}`, `$scrypt$${2 ** 21}$8$1$${salt}$${key}`, `$scrypt$1024$8$1$${salt}`, `$7$1024$8$1$${salt}$${key}`]) {
    assert.equal(parseScryptHash(bad), undefined, bad);
    assert.equal(await verifyPassword(bad, 'x'), false);
  }
});
