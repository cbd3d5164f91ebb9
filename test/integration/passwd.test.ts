import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findUserHash, parsePasswordFile, verifyPassword } from '../../src/broker/password-hash.js';
import { ROOT, runCli } from '../helpers/agent-process.js';
import { findBinary, haveMosquitto, stopChild } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';

const noMosquitto = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const isRoot = process.getuid?.() === 0;
const T = { timeout: 60_000 };
const LINE_7 = /^[^:]+:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/;

async function workspace(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-passwd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, file: join(dir, 'passwd') };
}

async function passwd(...args: string[]): Promise<{ code: number | string; stderr: string }> {
  const result = await runCli(['passwd', ...args]);
  return { code: result.code, stderr: result.stderr };
}

async function verifies(file: string, user: string, password: string): Promise<boolean> {
  return verifyPassword(findUserHash(parsePasswordFile(await readFile(file, 'utf8')), user) ?? '', password);
}

/** A real mosquitto on 127.0.0.1 using exactly this password file; ready when it logs "running". */
async function mosquitto(t: { after(fn: () => Promise<void>): void }, dir: string, passwordFile: string) {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  // As root, mosquitto would switch to the `mosquitto` user, who cannot read the 0700 temp dir.
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'persistence false', 'log_dest stderr', `user ${userInfo().username}`, 'allow_anonymous false', `password_file ${passwordFile}`, ''].join('\n'));
  const child = spawn(findBinary('mosquitto') ?? 'mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => stopChild(child));
  let log = '';
  const waiters = new Set<() => void>();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
    for (const wake of waiters) wake();
  });
  /** Resolves once `text` has been logged `times` times (mosquitto logs as it acts: an event, not a delay). */
  const logged = (text: string, times = 1, ms = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (log.split(text).length - 1 < times) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`mosquitto did not log ${JSON.stringify(text)} ×${times} within ${ms} ms:\n${log}`));
      }, ms);
      waiters.add(check);
      check();
    });
  child.once('exit', () => waiters.forEach((wake) => wake()));
  await logged(' running');
  const client = (bin: string, user: string, password: string, args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(findBinary(bin) ?? bin, ['-h', '127.0.0.1', '-p', String(port), '-i', `${bin}-${user}`, '-u', user, '-P', password, ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      ),
    );
  return {
    reload: async (times: number) => {
      process.kill(child.pid ?? 0, 'SIGHUP');
      await logged('Reloading config.', times);
    },
    pub: (user: string, password: string) => client('mosquitto_pub', user, password, ['-t', 'w1mqtt/passwd-test', '-m', `from ${user}`, '-r']),
    sub: (user: string, password: string) => client('mosquitto_sub', user, password, ['-t', 'w1mqtt/passwd-test', '-C', '1', '-W', '5']),
  };
}

test('mosquitto accepts a file written by w1mqtt passwd -c -b; either tool edits the other\'s file; -D and a reload shut a user out', { ...T, skip: noMosquitto }, async (t) => {
  const { dir, file } = await workspace(t);
  assert.deepEqual(await passwd('-c', '-b', file, 'alice', 'correct horse'), { code: 0, stderr: `w1mqtt: password of alice set in ${file}\nTo apply it: sudo systemctl reload w1mqtt (the agent passes SIGHUP on to its mosquitto, which re-reads the file)\n` });
  assert.match((await readFile(file, 'utf8')).trimEnd(), LINE_7);
  await new Promise<void>((resolve, reject) =>
    execFile(findBinary('mosquitto_passwd') ?? 'mosquitto_passwd', ['-b', file, 'bob', 'bob:pw'], { timeout: 5_000 }, (err) => (err ? reject(err) : resolve())),
  );
  const broker = await mosquitto(t, dir, file);

  assert.equal((await broker.pub('alice', 'correct horse')).code, 0);
  const got = await broker.sub('bob', 'bob:pw');
  assert.deepEqual([got.code, got.stdout], [0, 'from alice\n']);
  for (const [user, password] of [['alice', 'correct horsE'], ['alice', ''], ['carol', 'carol pw'], ['nobody', 'correct horse']] as const) {
    const refused = await broker.sub(user, password);
    assert.notEqual(refused.code, 0, `${user} / ${password}`);
    assert.match(refused.stderr, /not authori[sz]ed|bad user name or password/i);
  }

  // w1mqtt passwd adds a user to the file mosquitto_passwd edited; SIGHUP makes mosquitto re-read it.
  assert.equal((await passwd('-b', file, 'carol', 'carol pw')).code, 0);
  await broker.reload(1);
  assert.equal((await broker.pub('carol', 'carol pw')).code, 0);
  assert.equal((await broker.pub('alice', 'correct horse')).code, 0, 'the others still log in');

  assert.equal((await passwd('-D', file, 'bob')).code, 0);
  await broker.reload(2);
  assert.notEqual((await broker.sub('bob', 'bob:pw')).code, 0);
  assert.deepEqual(parsePasswordFile(await readFile(file, 'utf8')).map((l) => l.entry?.user), ['alice', 'carol']);
});

test('-D removes only that user, byte for byte; an unknown user changes nothing and exits 1', T, async (t) => {
  const { file } = await workspace(t);
  await writeFile(file, '# the kitchen pi\n\n');
  assert.equal((await passwd('-b', file, 'alice', 'a')).code, 0);
  assert.equal((await passwd('-b', file, 'bob', 'b')).code, 0);
  assert.equal((await passwd('-b', file, 'carol', 'c')).code, 0);
  const before = await readFile(file, 'utf8');
  assert.equal((await passwd('-D', file, 'bob')).code, 0);
  const after = await readFile(file, 'utf8');
  assert.equal(after, before.replace(/^bob:.*\n/m, ''));
  assert.ok(after.startsWith('# the kitchen pi\n\nalice:'));
  const again = await passwd('-D', file, 'bob');
  assert.deepEqual([again.code, again.stderr], [1, `w1mqtt: bob is not in ${file}; not changed\n`]);
  assert.equal(await readFile(file, 'utf8'), after);
  assert.equal(await verifies(file, 'carol', 'c'), true);
});

test('an existing file keeps its owner, group and mode through every change; a link stays a link', { ...T, skip: !isRoot && 'chown needs root' }, async (t) => {
  const { dir, file } = await workspace(t);
  assert.equal((await passwd('-c', '-b', file, 'alice', 'a')).code, 0);
  await chown(file, 65534, 65534);
  await chmod(file, 0o640);
  const kept = async (what: string) => {
    const s = await stat(file);
    assert.deepEqual([s.uid, s.gid, s.mode & 0o7777], [65534, 65534, 0o640], what);
  };
  assert.equal((await passwd('-b', file, 'bob', 'b')).code, 0);
  await kept('after adding bob');
  assert.equal((await passwd('-b', file, 'alice', 'a2')).code, 0);
  await kept('after changing alice');
  assert.equal((await passwd('-D', file, 'bob')).code, 0);
  await kept('after -D');
  const link = join(dir, 'link');
  await symlink(file, link);
  assert.equal((await passwd('-b', link, 'dave', 'd')).code, 0);
  assert.ok((await lstat(link)).isSymbolicLink());
  await kept('after a change through a link');
  assert.equal((await passwd('-c', '-b', file, 'erin', 'e')).code, 0);
  await kept('after -c over it');
  assert.deepEqual(parsePasswordFile(await readFile(file, 'utf8')).map((l) => l.entry?.user), ['erin']);
  assert.deepEqual((await readdir(dir)).sort(), ['link', 'passwd'], 'no temp file left behind');
});

test('a new file is 0640, in group w1 when root makes it and that group exists', T, async (t) => {
  const { file } = await workspace(t);
  assert.equal((await passwd('-c', '-b', file, 'alice', 'a')).code, 0);
  const s = await stat(file);
  const w1 = /^w1:[^:]*:(\d+):/m.exec(await readFile('/etc/group', 'utf8').catch(() => ''))?.[1];
  assert.equal(s.mode & 0o777, 0o640);
  assert.equal(s.gid, isRoot && w1 !== undefined ? Number(w1) : process.getegid?.());
});

test('-U hashes plain-text passwords only: hashes, comments and the mode are kept', T, async (t) => {
  const { file } = await workspace(t);
  assert.equal((await passwd('-c', '-b', file, 'alice', 'a')).code, 0);
  const alice = (await readFile(file, 'utf8')).trimEnd();
  await writeFile(file, `# converted\n${alice}\ndave:plain pw\n`);
  await chmod(file, 0o600);
  assert.equal((await passwd('-U', file)).code, 0);
  const lines = (await readFile(file, 'utf8')).split('\n');
  assert.deepEqual(lines.slice(0, 2), ['# converted', alice]);
  assert.match(lines[2] ?? '', LINE_7);
  assert.equal(await verifies(file, 'dave', 'plain pw'), true);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  assert.equal((await passwd('-U', file)).code, 0);
  assert.equal(await readFile(file, 'utf8'), text, 'nothing left to hash: unchanged');
});

test('without -b the password is the first line of stdin, even while the writer keeps the pipe open', T, async (t) => {
  const { file } = await workspace(t);
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'passwd', '-c', file, 'alice'], { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
  t.after(() => stopChild(child));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.write('from stdin\r\nnot this line\n');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdin.destroy();
  assert.equal(code, 0, stderr);
  assert.equal(await verifies(file, 'alice', 'from stdin'), true);

  assert.equal((await passwd(file, 'bob')).code, 1, 'no stdin (runCli gives /dev/null): an empty password is refused');
  assert.deepEqual(parsePasswordFile(await readFile(file, 'utf8')).map((l) => l.entry?.user), ['alice']);
});

test('mistakes: the old --config form, bad user names, bad flags, a missing file', T, async (t) => {
  const { file } = await workspace(t);
  for (const args of [['passwd', '--config', file, 'alice'], ['--config', file, 'passwd', 'alice']]) {
    const old = await runCli(args);
    assert.equal(old.code, 2);
    assert.match(old.stderr, /passwd --config is gone: users no longer live in sensors\.yaml but in a mosquitto password file, which the bundled broker \(mosquitto\) reads\. Make one with `sudo w1mqtt passwd -c \/etc\/w1mqtt\/passwd USER`/);
  }
  for (const [args, message] of [
    [['-c', '-b', file, 'a:b', 'pw'], /a user name cannot contain ':'/],
    [['-c', '-b', file, 'a\tb', 'pw'], /control characters/],
    [['-c', '-D', file, 'alice'], /-c and -D cannot be used together/],
    [['-b', file, 'alice'], /passwd -b needs FILE USER PASSWORD/],
    [['-x', file, 'alice'], /unknown option -x/],
  ] as const) {
    const r = await passwd(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
  const missing = await passwd('-b', file, 'alice', 'pw');
  assert.deepEqual([missing.code, missing.stderr.split('\n')[0]], [1, `w1mqtt: ${file} does not exist (create it with: w1mqtt passwd -c ${file} USER)`]);
  assert.equal((await passwd('-c', '-b', file, 'alice', '-starts-with-dash')).code, 0, 'a password may start with -');
  assert.equal(await verifies(file, 'alice', '-starts-with-dash'), true);
});
