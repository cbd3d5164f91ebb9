import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/agent-process.js';
import { findBinary } from '../helpers/mosquitto.js';

/**
 * install.sh and the Node.js it finds (too old, or under /home where the service cannot see it),
 * and the documented update, `git pull && sudo ./deploy/install.sh`: new dependencies installed,
 * a rebuild, the user's sensors.yaml kept, and no root-owned file left in the user's checkout.
 * Everything goes into a temporary root (--destdir); npm's `ci` is a stand-in (no downloads).
 */

const execFile = promisify(execFileCb);
const INSTALL = join(ROOT, 'deploy/install.sh');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 150_000, maxBuffer: 8 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A directory first on PATH, holding `files` (name → shell script body). */
async function binDir(parent: string, files: Record<string, string>): Promise<{ dir: string; path: string }> {
  const dir = join(parent, 'bin');
  await mkdir(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  return { dir, path: `${dir}${delimiter}${process.env['PATH'] ?? ''}` };
}

const NODESOURCE = [
  'curl -fsSL https://deb.nodesource.com/setup_24.x -o nodesource_setup.sh',
  'sudo -E bash nodesource_setup.sh',
  'sudo apt-get install -y nodejs',
];

test("install.sh with bookworm's Node.js 18: stops with the commands for a current LTS, and installs nothing", { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-node18-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(root);
  // Debian bookworm's nodejs: `node --version` is all install.sh asks it.
  const { path } = await binDir(dir, { node: 'if [ "$1" = --version ]; then echo v18.19.0; else exit 1; fi' });
  const result = await run('bash', [INSTALL, '--destdir', root], { PATH: path });
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, /Node\.js v18\.19\.0 \(.*\/bin\/node\) is too old: w1mqtt needs >= 20\.19/);
  for (const line of NODESOURCE) assert.ok(result.stderr.split('\n').some((l) => l.trim() === line), `says: ${line}\n${result.stderr}`);
  assert.match(result.stderr, /trixie .*Debian's own nodejs \(20\.19\) works as it is:\n +sudo apt install nodejs npm\n/);
  assert.deepEqual(await readdir(root), [], 'nothing installed');
});

test('scripts/lib.sh apt_nodejs_ok: apt installs nodejs only when its candidate is >= 20.19 (trixie, NodeSource), never bookworm\'s 18', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-aptnode-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { path } = await binDir(dir, { 'apt-cache': 'printf "nodejs:\\n  Installed: (none)\\n  Candidate: %s\\n" "$CANDIDATE"' });
  const cases: [string, boolean][] = [
    ['18.19.0+dfsg-6~deb12u2', false], // bookworm
    ['20.19.2+dfsg-1', true], // trixie
    ['24.11.1-1nodesource1', true],
    ['1:20.19.0-1', true], // an epoch
    ['(none)', false],
  ];
  for (const [candidate, ok] of cases) {
    const r = await run('bash', ['-c', '. "$1"; apt_nodejs_ok', 'lib-test', join(ROOT, 'scripts/lib.sh')], { PATH: path, CANDIDATE: candidate });
    assert.equal(r.code === 0, ok, `${candidate}: ${r.stderr}`);
  }
});

test('install.sh refuses a node under /home or /root (ProtectHome=yes hides it from the service), also through a symlink', { timeout: 30_000, skip: !(isRoot && existsSync('/home')) && 'needs root and /home' }, async (t) => {
  const home = await mkdtemp('/home/w1mqtt-nvm-');
  t.after(() => rm(home, { recursive: true, force: true }));
  const nvmBin = join(home, '.nvm/versions/node/v24.11.1/bin');
  await mkdir(nvmBin, { recursive: true });
  // A real file there, as nvm's is (a symlink would resolve to the system's node).
  await writeFile(join(nvmBin, 'node'), `#!/bin/sh\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-homenode-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(root);
  const linked = join(dir, 'usr-local-bin');
  await mkdir(linked);
  await symlink(join(nvmBin, 'node'), join(linked, 'node'));
  for (const first of [nvmBin, linked]) {
    const result = await run('bash', [INSTALL, '--destdir', root], { PATH: `${first}${delimiter}${process.env['PATH'] ?? ''}` });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /, is under \/home or \/root, which the service cannot see \(w1mqtt\.service has ProtectHome=yes\)/);
    assert.ok(result.stderr.includes(NODESOURCE[0]!), result.stderr);
    assert.deepEqual(await readdir(root), [], 'nothing installed');
  }
});

test('install.sh and uninstall.sh --help: their comment block only; install.sh names the service, its log and the update', { timeout: 30_000 }, async () => {
  for (const script of ['deploy/install.sh', 'deploy/uninstall.sh']) {
    const help = await run('bash', [join(ROOT, script), '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.doesNotMatch(help.stdout, /set -euo pipefail|^#/m);
    assert.match(help.stdout, /--destdir DIR/);
  }
  const help = (await run('bash', [INSTALL, '--help'])).stdout;
  assert.match(help, /journalctl -u w1mqtt/);
  assert.match(help, /systemctl status w1mqtt/);
  assert.match(help, /git pull && sudo \.\/deploy\/install\.sh/);
});

/** Files under `dir` owned by root, as paths relative to it. */
async function rootOwned(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if ((await lstat(path)).uid === 0) found.push(relative(dir, path));
      if (entry.isDirectory()) await walk(path);
    }
  };
  await walk(dir);
  return found;
}

const sha = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

test('the update, git pull && sudo ./deploy/install.sh: a changed package-lock.json reinstalls the dependencies, the program is rebuilt, sensors.yaml is kept, and the checkout stays its owner\'s', { timeout: 240_000, skip: !(isRoot && findBinary('setpriv')) && 'needs root and setpriv' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-update-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755); // the checkout's owner (nobody here) must reach it
  // The user's checkout: this tree without .git and dist/ (and what install.sh never reads), owned by an ordinary user.
  const checkout = join(dir, 'checkout');
  await cp(ROOT, checkout, { recursive: true, verbatimSymlinks: true, filter: (src) => !['.git', 'dist', 'test', 'bench', 'docs'].includes(relative(ROOT, src)) });
  await run('chown', ['-R', `${NOBODY}:${NOBODY}`, checkout]);
  // npm as the user would run it; `npm ci` a stand-in that rewrites node_modules' record of the lock.
  const calls = join(dir, 'npm-calls');
  const realNpm = findBinary('npm');
  assert.ok(realNpm, 'npm on PATH');
  const { path } = await binDir(dir, {
    npm: [
      `echo "$(id -u) $*" >>${calls}`,
      'if [ "$1" = ci ]; then rm -f node_modules/.package-lock.json && cp package-lock.json node_modules/.package-lock.json && exit 0; fi',
      `exec ${realNpm} "$@"`,
    ].join('\n'),
  });
  await writeFile(calls, '');
  await chmod(calls, 0o666);
  const root = join(dir, 'root');
  const install = () => run('bash', [join(checkout, 'deploy/install.sh'), '--destdir', root], { PATH: path });
  const npmCalls = async () => (await readFile(calls, 'utf8')).split('\n').filter(Boolean);

  const first = await install();
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /building/);
  assert.ok((await npmCalls()).includes(`${NOBODY} run --silent build`), (await npmCalls()).join('\n'));
  assert.deepEqual(await rootOwned(checkout), [], 'no root-owned file in the checkout');
  assert.equal((await stat(join(root, 'opt/w1mqtt/dist/main.js'))).uid, 0, 'the installed program is root\'s');
  // The user's next step works: a rebuild (which removes dist/ first) as the user.
  const asUser = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'env', `HOME=${dir}`];
  const rebuild = await run(asUser[0]!, [...asUser.slice(1), 'sh', '-c', `cd ${checkout} && exec ${process.execPath} scripts/build.mjs`]);
  assert.equal(rebuild.code, 0, rebuild.stderr);

  // The user's own sensors.yaml, and a root-owned file an older install.sh left in dist/.
  const config = join(root, 'etc/w1mqtt/sensors.yaml');
  await writeFile(config, 'interval: 10s\n');
  await chmod(config, 0o640);
  await writeFile(join(checkout, 'dist/left-by-root'), '');

  // git pull: a new package-lock.json (dependencies only), newer than node_modules' record of it.
  await writeFile(calls, '');
  await appendFile(join(checkout, 'package-lock.json'), '\n');
  const second = await install();
  assert.equal(second.code, 0, second.stdout + second.stderr);
  const calledNow = await npmCalls();
  assert.ok(calledNow.some((c) => c.startsWith(`${NOBODY} ci `)), `npm ci as the user: ${calledNow.join('\n')}`);
  assert.ok(calledNow.includes(`${NOBODY} run --silent build`), calledNow.join('\n'));
  assert.equal(await readFile(join(checkout, 'node_modules/.package-lock.json'), 'utf8'), await readFile(join(checkout, 'package-lock.json'), 'utf8'));
  assert.equal(await sha(join(root, 'opt/w1mqtt/dist/main.js')), await sha(join(checkout, 'dist/main.js')), 'the new build installed');
  assert.equal(await readFile(config, 'utf8'), 'interval: 10s\n');
  assert.equal((await stat(config)).mode & 0o777, 0o640);
  assert.match(second.stdout, /keeping your \/etc\/w1mqtt\/sensors.yaml/);
  assert.deepEqual(await rootOwned(checkout), [], 'no root-owned file in the checkout');

  // Nothing changed: no reinstall, no rebuild.
  await writeFile(calls, '');
  const third = await install();
  assert.equal(third.code, 0, third.stderr);
  assert.ok(!(await npmCalls()).some((c) => / (ci|run --silent build)$|ci /.test(c)), (await npmCalls()).join('\n'));
  await chown(dir, 0, 0);
});
