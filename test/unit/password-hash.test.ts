import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  DEFAULT_ITERATIONS,
  deleteUser,
  findUserHash,
  hashPassword,
  parseHash,
  parsePasswordFile,
  parsePasswordLine,
  serializePasswordFile,
  setUserHash,
  userNameProblem,
  verifyPassword,
} from '../../src/broker/password-hash.js';
import { findBinary, haveMosquitto } from '../helpers/mosquitto.js';

const T = { timeout: 20_000 };
const FORMAT_7 = /^\$7\$(\d+)\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/;

// Written by mosquitto_passwd 2.0.11 (`-b -c`, `-I 2000 -b -c`, `-H sha512 -b -c`), so these pass without mosquitto installed.
const VECTOR_7 = 'alice:$7$101$Ihz3X5MiX3jikYvy$ToQ26pcz1r0V1FsP/EGRBA4A0nlanYitfq6rHuThxaHmz0A0dSeP8SL9AlG8LfuomEXTAwu7I/XUysV1h0O/ew==';
const VECTOR_7_UTF8 = 'jürgen:$7$2000$ME4fL1HPWEMi9gmW$bdeKoQA0OdR2IYv+cZm969UTgJUQDRiAFhEGzsRW6WFoMCCUvtGXHvJ/sUd3Qb9lSOeEZMcheycpe2R5cjG52A==';
const VECTOR_6 = 'bob:$6$MBacjB1B/pNXylFO$Dx2VHhOnmd3ZInxXsEENNsV8gAFbKmVXcKcdKbh+UDTNuwnO0XWs+L5FXqyliByGFl/TPL1w7IbcB8wGOEwyyA==';

test('a new hash has mosquitto_passwd 2.0 form ($7$, 101 iterations, 12-byte salt, 64-byte hash) and verifies only its password', T, async () => {
  const hash = await hashPassword('correct horse');
  assert.match(hash, FORMAT_7);
  assert.equal(parseHash(hash)?.type, 'sha512-pbkdf2');
  assert.equal(DEFAULT_ITERATIONS, 101);
  assert.equal(await verifyPassword(hash, 'correct horse'), true);
  assert.equal(await verifyPassword(hash, 'correct horsE'), false);
  assert.equal(await verifyPassword(hash, ''), false);
  assert.notEqual(await hashPassword('correct horse'), hash, 'a new salt each time');
  const slow = await hashPassword('pw', 1000);
  assert.match(slow, /^\$7\$1000\$/);
  assert.equal(await verifyPassword(slow, 'pw'), true);
  await assert.rejects(hashPassword('pw', 0), RangeError);
  await assert.rejects(hashPassword('a\0b'), RangeError);
});

test("mosquitto_passwd's own lines verify: $7$ (default and -I 2000, UTF-8) and $6$", T, async () => {
  for (const [line, user, password] of [
    [VECTOR_7, 'alice', 'secret'],
    [VECTOR_7_UTF8, 'jürgen', 'pa:ss wörd'],
    [VECTOR_6, 'bob', 'pa:ss wörd'],
  ] as const) {
    const parsed = parsePasswordLine(line);
    assert.equal(parsed?.user, user);
    assert.equal(await verifyPassword(parsed?.hash ?? '', password), true, line);
    assert.equal(await verifyPassword(parsed?.hash ?? '', `${password}x`), false, line);
  }
});

test('a file the installed mosquitto_passwd writes verifies with these parsers', { ...T, skip: !haveMosquitto() && 'mosquitto_passwd not installed' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-pwhash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'passwd');
  const run = promisify(execFile);
  await run(findBinary('mosquitto_passwd') ?? 'mosquitto_passwd', ['-b', '-c', file, 'pi', 'raspberry pi'], { timeout: 5_000 });
  await run(findBinary('mosquitto_passwd') ?? 'mosquitto_passwd', ['-b', file, 'ha', 'home assistant'], { timeout: 5_000 });
  const lines = parsePasswordFile(await readFile(file, 'utf8'));
  assert.deepEqual(lines.map((l) => l.entry?.user), ['pi', 'ha']);
  for (const l of lines) assert.match(l.entry?.field ?? '', FORMAT_7);
  assert.equal(await verifyPassword(findUserHash(lines, 'pi') ?? '', 'raspberry pi'), true);
  assert.equal(await verifyPassword(findUserHash(lines, 'ha') ?? '', 'home assistant'), true);
  assert.equal(await verifyPassword(findUserHash(lines, 'ha') ?? '', 'raspberry pi'), false);
});

test('lines the broker would skip or drop are not password lines, and their hashes never verify', T, async () => {
  const good = VECTOR_7.slice('alice:'.length);
  const [, salt = '', hash = ''] = /^\$7\$101\$([^$]+)\$(.+)$/.exec(good) ?? [];
  const short = Buffer.alloc(11).toString('base64');
  for (const skipped of ['', `# alice:${good}`, 'alice', 'alice:', `:${good}`, `   :${good}`]) assert.equal(parsePasswordLine(skipped), undefined, skipped);
  for (const bad of [
    'secret',
    `$7$0$${salt}$${hash}`,
    `$7$x$${salt}$${hash}`,
    `$7$${2 ** 31}$${salt}$${hash}`,
    `$7$101$${short}$${hash}`,
    `$7$101$${salt}$${hash.slice(4)}`,
    `$7$101$${salt}`,
    `$7$101$${salt}$${hash}$`,
    `$8$101$${salt}$${hash}`,
    `$6$101$${salt}$${hash}`,
    `$7$101$${salt}$${hash.replace('==', '')}`,
  ]) {
    assert.equal(parsePasswordLine(`alice:${bad}`), undefined, bad);
    assert.equal(parseHash(bad), undefined, bad);
    assert.equal(await verifyPassword(bad, 'secret'), false, bad);
  }
  assert.equal(await verifyPassword(good, 'secret'), true, 'the unbroken hash does verify');
  // As the broker reads it: blanks around the fields are trimmed (CRLF too), a third field is ignored.
  assert.equal(parsePasswordLine(` alice :\t${good} \r`)?.user, 'alice');
  assert.equal(parsePasswordLine(`alice:${good}:ignored`)?.hash, good);
});

test('a whole file: comments, blank lines and unknown lines kept byte for byte; users set, added, deduplicated and deleted', T, async () => {
  const text = ['# users of the kitchen pi', '', VECTOR_7, 'not a user line', 'carol:plain text', VECTOR_6, ''].join('\n');
  const lines = parsePasswordFile(text);
  assert.equal(serializePasswordFile(lines), text);
  assert.deepEqual(lines.map((l) => l.entry?.user), [undefined, undefined, 'alice', undefined, 'carol', 'bob']);

  const fresh = await hashPassword('new');
  const set = setUserHash(lines, 'alice', fresh);
  assert.equal(serializePasswordFile(set), text.replace(VECTOR_7, `alice:${fresh}`));
  const added = setUserHash(lines, 'dave', fresh);
  assert.equal(serializePasswordFile(added), `${text}dave:${fresh}\n`);
  const deduped = setUserHash([...lines, ...parsePasswordFile(`${VECTOR_7}\n`)], 'alice', fresh);
  assert.equal(deduped.filter((l) => l.entry?.user === 'alice').length, 1);

  const removed = deleteUser(lines, 'bob');
  assert.equal(removed.found, true);
  assert.equal(serializePasswordFile(removed.lines), text.replace(`${VECTOR_6}\n`, ''));
  assert.equal(deleteUser(lines, 'nobody').found, false);

  assert.equal(serializePasswordFile(parsePasswordFile('alice:x')), 'alice:x\n', 'a missing final newline is added');
  assert.deepEqual(parsePasswordFile(''), []);
});

test('user names: refused like mosquitto_passwd (":" and control characters), and names the broker would trim', () => {
  assert.equal(userNameProblem('kitchen-pi'), undefined);
  assert.equal(userNameProblem('jürgen smith'), undefined);
  for (const bad of ['', 'a:b', 'a\tb', 'a\nb', 'a\x7fb', ' pi', 'pi ', 'x'.repeat(65536)]) assert.ok(userNameProblem(bad), JSON.stringify(bad));
});
