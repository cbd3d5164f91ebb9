import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES, ROOT } from '../helpers/agent-process.js';
import { findBinary, haveMosquitto, stopChild } from '../helpers/mosquitto.js';
import { agentNodeFlags } from '../helpers/node-flags.js';
import { freePort } from '../helpers/ports.js';
import { stubSystem, type StubState } from '../helpers/stub-system.js';
import { allowedFamilies, allowedSyscalls } from '../helpers/unit-filter.js';

/**
 * deploy/: the unit checked by systemd's own tools (systemd is not PID 1 here, so
 * offline), install.sh and uninstall.sh run into a temporary root, the udev rule's
 * command run against a copy of a sysfs tree. The mosquitto decisions (install.sh,
 * start.sh, scripts/lib.sh) run against stand-ins for systemctl, dpkg-query and apt-get
 * (test/helpers/stub-system.ts): never the real packages or systemd. The bundled broker's
 * launch runs under the unit's own system call filter (test/helpers/unit-sandbox.py).
 */

const execFile = promisify(execFileCb);
const UNIT = join(ROOT, 'deploy/w1mqtt.service');
const T = { timeout: 180_000 };

function analyze(): string {
  const bin = findBinary('systemd-analyze');
  if (bin) return bin;
  if (process.env['CI']) throw new Error('systemd-analyze missing: scripts/test.sh installs the systemd package');
  return '';
}

async function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFile(cmd, args, { env: { ...process.env, ...opts.env }, timeout: 150_000, maxBuffer: 8 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('the unit passes systemd-analyze verify and scores 2.0 or better on security', { ...T, skip: !analyze() && 'systemd-analyze not installed' }, async () => {
  const verify = await run(analyze(), ['verify', UNIT]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.doesNotMatch(verify.stderr, /w1mqtt/, verify.stderr);

  const security = await run(analyze(), ['security', '--offline=true', UNIT]);
  const overall = /Overall exposure level for w1mqtt\.service: (\d+\.\d+) (\w+)/.exec(security.stdout);
  assert.ok(overall, security.stdout + security.stderr);
  const score = Number(overall[1]);
  assert.ok(score <= 2.0, `exposure ${score} > 2.0`);
  assert.equal(overall[2], 'OK');
  // The threshold is on the 0–100 scale: 20 = 2.0.
  assert.equal((await run(analyze(), ['security', '--offline=true', '--threshold=20', UNIT])).code, 0);

  const unit = await readFile(UNIT, 'utf8');
  for (const line of ['Type=notify', 'Restart=on-failure', 'KillMode=mixed', 'User=w1mqtt', 'Group=w1', 'StateDirectory=w1mqtt', 'ConfigurationDirectory=w1mqtt', 'ExecReload=/bin/kill -HUP $MAINPID']) {
    assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
  }
  assert.match(unit, /^WatchdogSec=\d+s$/m);
  // V8's JIT needs W+X memory: this setting kills Node at start.
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=/m);
});

test('the udev rule gives the w1 group write access to resolution and therm_bulk_read', T, async (t) => {
  const rule = await readFile(join(ROOT, 'deploy/60-w1mqtt.rules'), 'utf8');
  const line = rule.split('\n').find((l) => l.startsWith('ACTION=='));
  assert.ok(line);
  assert.match(line, /ACTION=="add\|bind", SUBSYSTEM=="w1", KERNEL=="10-\*\|22-\*\|28-\*\|3b-\*\|42-\*"/);
  const command = /RUN\+="\/bin\/sh -c '(.*)'"$/.exec(line)?.[1];
  assert.ok(command, line);

  // udev's substitutions, on a copy of a sysfs tree: %p is the device path, $$ a literal $.
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-udev-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(FIXTURES, 'w1'), join(dir, 'sys'), { recursive: true, verbatimSymlinks: true });
  const master = join(dir, 'sys/devices/w1_bus_master1');
  await chmod(join(master, 'therm_bulk_read'), 0o644);
  await chmod(join(master, '28-0316a2792dff/resolution'), 0o644);
  const group = (await run('id', ['-gn'])).stdout.trim(); // the rule's group w1 need not exist here
  const asRun = (devpath: string) => command.replaceAll('/sys%p', join(dir, 'sys', devpath)).replaceAll('$$', '$').replaceAll('chgrp w1 ', `chgrp ${group} `);
  for (const devpath of ['/devices/w1_bus_master1/28-0316a2792dff', '/devices/w1_bus_master1/10-000802b4a1c3']) {
    const result = await run('/bin/sh', ['-c', asRun(devpath)]);
    assert.equal(result.code, 0, result.stderr);
  }
  assert.equal((await stat(join(master, 'therm_bulk_read'))).mode & 0o777, 0o664);
  assert.equal((await stat(join(master, '28-0316a2792dff/resolution'))).mode & 0o777, 0o664);
  assert.equal((await stat(join(master, '28-0316a2792dff/w1_slave'))).mode & 0o020, 0, 'nothing else made writable');
});

/** Every file under `root` (not node_modules) with its hash or link target. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(root, path);
      if (entry.name === 'node_modules' || rel.startsWith('etc/.pwd.lock')) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) out.set(rel, `-> ${await readlink(path)}`);
      else out.set(rel, createHash('sha256').update(await readFile(path)).digest('hex'));
    }
  };
  await walk(root);
  return out;
}

test('install.sh into a temporary root: program, user, unit, udev rule, example config; idempotent; uninstall.sh', { ...T, skip: !analyze() && 'systemd-analyze not installed' }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'w1mqtt-root-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const install = () => run('bash', [join(ROOT, 'deploy/install.sh'), '--destdir', root]);
  const first = await install();
  assert.equal(first.code, 0, first.stdout + first.stderr);

  // The program with its runtime dependencies only, and a command on PATH.
  const prog = join(root, 'opt/w1mqtt');
  await stat(join(prog, 'dist/main.js'));
  await stat(join(prog, 'node_modules/mqtt/package.json'));
  await assert.rejects(stat(join(prog, 'node_modules/typescript')), 'dev dependencies pruned');
  assert.equal(await readlink(join(root, 'usr/local/bin/w1mqtt')), '/opt/w1mqtt/bin/w1mqtt.cjs');
  const version = await run(process.execPath, [join(prog, 'bin/w1mqtt.cjs'), '--version']);
  assert.match(version.stdout, /^w1mqtt \d+\.\d+\.\d+\n$/);
  await servesLivePage(prog);

  // The user in the w1 group, made by systemd-sysusers inside the root only.
  const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
  const group = await readFile(join(root, 'etc/group'), 'utf8');
  const gid = /^w1:x:(\d+):/m.exec(group)?.[1];
  assert.ok(gid, group);
  assert.match(passwd, new RegExp(`^w1mqtt:x:\\d+:${gid}:[^:]*:/var/lib/w1mqtt:/usr/sbin/nologin$`, 'm'));

  // The unit with this machine's node, verified as installed; the udev rule.
  const unit = await readFile(join(root, 'etc/systemd/system/w1mqtt.service'), 'utf8');
  // The same node flags as bin/w1mqtt.cjs's #! line, which every other start uses.
  assert.match(unit, new RegExp(`^ExecStart=${escapeRegExp([process.execPath, ...agentNodeFlags()].join(' '))} /opt/w1mqtt/bin/w1mqtt\\.cjs run$`, 'm'));
  const verify = await run(analyze(), ['verify', join(root, 'etc/systemd/system/w1mqtt.service')]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(await readFile(join(root, 'etc/udev/rules.d/60-w1mqtt.rules'), 'utf8'), await readFile(join(ROOT, 'deploy/60-w1mqtt.rules'), 'utf8'));

  // The example sensors.yaml, valid as shipped.
  const config = join(root, 'etc/w1mqtt/sensors.yaml');
  assert.equal(await readFile(config, 'utf8'), await readFile(join(ROOT, 'deploy/sensors.example.yaml'), 'utf8'));
  const check = await run(process.execPath, [join(prog, 'bin/w1mqtt.cjs'), 'check', '--config', config]);
  assert.equal(check.code, 0, check.stdout + check.stderr);

  // Again: the same tree, and the user's own sensors.yaml is kept.
  const before = await snapshot(root);
  await writeFile(config, 'interval: 10s\n');
  const second = await install();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /keeping your \/etc\/w1mqtt\/sensors.yaml/);
  assert.equal(await readFile(config, 'utf8'), 'interval: 10s\n');
  const after = await snapshot(root);
  after.set('etc/w1mqtt/sensors.yaml', before.get('etc/w1mqtt/sensors.yaml') ?? '');
  assert.deepEqual([...after].sort(), [...before].sort());

  // uninstall.sh keeps configuration and user; twice is fine; --purge removes them.
  for (let i = 0; i < 2; i++) {
    const removed = await run('bash', [join(ROOT, 'deploy/uninstall.sh'), '--destdir', root]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /kept the mosquitto and mosquitto-clients packages/);
  }
  for (const gone of ['opt/w1mqtt', 'usr/local/bin/w1mqtt', 'etc/systemd/system/w1mqtt.service', 'etc/udev/rules.d/60-w1mqtt.rules', 'usr/lib/sysusers.d/w1mqtt.conf']) {
    await assert.rejects(lstat(join(root, gone)), `${gone} removed`);
  }
  assert.equal(await readFile(config, 'utf8'), 'interval: 10s\n');
  const purged = await run('bash', [join(ROOT, 'deploy/uninstall.sh'), '--destdir', root, '--purge']);
  assert.equal(purged.code, 0, purged.stderr);
  await assert.rejects(stat(join(root, 'etc/w1mqtt')));
  assert.doesNotMatch(await readFile(join(root, 'etc/passwd'), 'utf8'), /^w1mqtt:/m);
  assert.doesNotMatch(await readFile(join(root, 'etc/group'), 'utf8'), /^w1:/m);
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The installed copy runs (its demo) and serves the live page with its chart library: web/ and uPlot came along. */
async function servesLivePage(prog: string): Promise<void> {
  const [port, webPort] = [await freePort(), await freePort()];
  const state = await mkdtemp(join(tmpdir(), 'w1mqtt-installed-state-'));
  const child = spawn(process.execPath, [...agentNodeFlags(), join(prog, 'bin/w1mqtt.cjs'), 'demo', '--port', String(port), '--web-port', String(webPort)], {
    cwd: prog,
    env: { ...process.env, STATE_DIRECTORY: state },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const deadline = Date.now() + 30_000;
    let page: Response | undefined;
    while (!page?.ok) {
      if (Date.now() > deadline) assert.fail(`the installed program served no page on :${webPort}`);
      page = await fetch(`http://127.0.0.1:${webPort}/`).catch(() => undefined);
      if (!page?.ok) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(await page.text(), /<!doctype html>/i);
    const chart = await fetch(`http://127.0.0.1:${webPort}/vendor/uPlot.iife.min.js`);
    assert.equal(chart.status, 200);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await rm(state, { recursive: true, force: true });
  }
}

/** The calls that change the machine: package installs and mosquitto.service state changes. */
function changes(calls: string[]): string[] {
  return calls.filter((c) => /^apt-get .*install|^systemctl .*\b(disable|enable|start|stop|restart|mask)\b/.test(c));
}

const STOCK = 'mqtt://127.0.0.1:1883';

for (const c of [
  {
    name: 'mosquitto absent under systemd: installed, and the stock unit its postinst started is disabled and stopped',
    state: { booted: true, root: true },
    stock: 'disabled',
    port: 1883,
    changes: ['apt-get install -y -qq mosquitto mosquitto-clients', 'systemctl disable --now mosquitto.service'],
    after: { enabled: 'disabled', active: false },
    says: /disabled and stopped Debian's mosquitto.service/,
  },
  {
    name: 'mosquitto absent without systemd (a chroot, a container): installed, the stock unit disabled on file only',
    state: { booted: false, root: true },
    stock: 'disabled',
    port: 1883,
    changes: ['apt-get install -y -qq mosquitto mosquitto-clients', 'systemctl disable mosquitto.service'],
    after: { enabled: 'disabled', active: false },
    says: /disabled Debian's mosquitto.service/,
  },
  {
    name: "the user's mosquitto.service enabled and running: left alone, the demo moves to 1884",
    state: { booted: true, root: true, installed: ['mosquitto', 'mosquitto-clients'], enabled: 'enabled', active: true },
    stock: 'in-use',
    port: 1884,
    changes: [],
    after: { enabled: 'enabled', active: true },
  },
  {
    name: "the user's mosquitto.service enabled but stopped, clients missing: only the clients installed, the unit left alone",
    state: { booted: true, root: true, installed: ['mosquitto'], enabled: 'enabled', active: false },
    stock: 'in-use',
    port: 1883,
    changes: ['apt-get install -y -qq mosquitto-clients'],
    after: { enabled: 'enabled', active: false },
  },
  {
    name: 'mosquitto installed with its unit off (an earlier install.sh): nothing to do',
    state: { booted: true, root: true, installed: ['mosquitto', 'mosquitto-clients'], enabled: 'disabled' },
    stock: 'off',
    port: 1883,
    changes: [],
    after: { enabled: 'disabled', active: false },
  },
  {
    name: 'mosquitto absent, neither root nor password-less sudo: how to install it, and go on',
    state: { booted: true, root: false },
    stock: 'missing',
    port: 1883,
    changes: [],
    after: { enabled: 'not-found', active: false },
    says: /sudo apt install mosquitto mosquitto-clients/,
  },
] satisfies { name: string; state: StubState; stock: string; port: number; changes: string[]; after: { enabled: string; active: boolean }; says?: RegExp }[]) {
  test(`scripts/lib.sh mosquitto_setup: ${c.name}`, { timeout: 30_000 }, async (t) => {
    const sys = await stubSystem(c.state);
    t.after(() => sys.cleanup());
    const script = 'set -euo pipefail; . "$1"; mosquitto_setup; echo "stock=$mosquitto_stock port=$(demo_port)"';
    const result = await run('bash', ['-c', script, 'lib-test', join(ROOT, 'scripts/lib.sh')], { env: sys.env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `stock=${c.stock} port=${c.port}\n`, result.stderr);
    assert.deepEqual(changes(await sys.calls()), c.changes);
    assert.equal(await sys.enabled(), c.after.enabled);
    assert.equal(await sys.active(), c.after.active);
    if (c.says) assert.match(result.stderr, c.says);
  });
}

/** scripts/start.sh and lib.sh in a copy of the tree, with a bin/w1mqtt.cjs that prints its arguments (npm stubbed: no build). */
async function startTree(bin: string): Promise<string> {
  const tree = await mkdtemp(join(tmpdir(), 'w1mqtt-start-'));
  await mkdir(join(tree, 'scripts'));
  await mkdir(join(tree, 'bin'));
  await mkdir(join(tree, 'node_modules'));
  for (const f of ['scripts/start.sh', 'scripts/lib.sh']) await copyFile(join(ROOT, f), join(tree, f));
  await writeFile(join(tree, 'bin/w1mqtt.cjs'), '#!/bin/sh\necho "w1mqtt $*"\n', { mode: 0o755 });
  await writeFile(join(tree, 'package-lock.json'), '{}\n');
  await writeFile(join(tree, 'node_modules/.package-lock.json'), '{}\n');
  await writeFile(join(bin, 'npm'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return tree;
}

test('start.sh demo: installs mosquitto and disables the stock unit it started; with the user\'s own running, the demo takes port 1884', { timeout: 30_000 }, async (t) => {
  const fresh = await stubSystem({ booted: true, root: true });
  t.after(() => fresh.cleanup());
  const tree = await startTree(fresh.bin);
  t.after(() => rm(tree, { recursive: true, force: true }));
  const first = await run('bash', [join(tree, 'scripts/start.sh'), 'demo'], { env: fresh.env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, 'w1mqtt demo\n');
  assert.deepEqual(changes(await fresh.calls()), ['apt-get install -y -qq mosquitto mosquitto-clients', 'systemctl disable --now mosquitto.service']);
  assert.match(first.stderr, /disabled and stopped Debian's mosquitto.service/);
  assert.match(first.stderr, /mosquitto_sub -t 'home\/#' -v/);

  const theirs = await stubSystem({ booted: true, root: true, installed: ['mosquitto', 'mosquitto-clients'], enabled: 'enabled', active: true });
  t.after(() => theirs.cleanup());
  await writeFile(join(theirs.bin, 'npm'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const second = await run('bash', [join(tree, 'scripts/start.sh'), 'demo'], { env: theirs.env });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, 'w1mqtt demo --port 1884\n');
  assert.deepEqual(changes(await theirs.calls()), []);
  assert.match(second.stderr, /mosquitto.service holds port 1883 \(left as it is\)/);
  assert.match(second.stderr, /mosquitto_sub -p 1884 -t 'home\/#' -v/);
  // A port the user chose stays.
  const chosen = await run('bash', [join(tree, 'scripts/start.sh'), 'demo', '--port', '2883'], { env: theirs.env });
  assert.equal(chosen.stdout, 'w1mqtt demo --port 2883\n');

  // Neither root nor sudo: how to install, and the demo starts anyway (and says itself what it lacks).
  const user = await stubSystem({ booted: true, root: false });
  t.after(() => user.cleanup());
  await writeFile(join(user.bin, 'npm'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const third = await run('bash', [join(tree, 'scripts/start.sh'), 'demo'], { env: user.env });
  assert.equal(third.code, 0, third.stderr);
  assert.equal(third.stdout, 'w1mqtt demo\n');
  assert.match(third.stderr, /sudo apt install mosquitto mosquitto-clients/);
  assert.deepEqual(changes(await user.calls()), []);
});

test("install.sh --destdir with the user's mosquitto.service enabled there: left alone, a new sensors.yaml sends to it", { ...T, skip: !analyze() && 'systemd-analyze not installed' }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'w1mqtt-root-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const sys = await stubSystem({ enabled: 'enabled', active: true, installed: [] });
  t.after(() => sys.cleanup());
  const install = () => run('bash', [join(ROOT, 'deploy/install.sh'), '--destdir', root], { env: sys.env });

  const first = await install();
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /mosquitto.service is in use in .*: left as it is, as your broker/);
  assert.match(first.stdout, new RegExp(`it publishes to that mosquitto.service \\(mqtt.url: ${escapeRegExp(STOCK)}\\)`));
  // The tree's unit state was asked (not this machine's); nothing installed, nothing disabled.
  assert.ok((await sys.calls()).includes(`systemctl --root=${root} is-enabled mosquitto.service`), (await sys.calls()).join('\n'));
  assert.deepEqual(changes(await sys.calls()), []);
  assert.ok(!(await sys.calls()).some((c) => c.startsWith('apt-get')));

  // The example with its commented url line made real, and valid.
  const config = join(root, 'etc/w1mqtt/sensors.yaml');
  const written = (await readFile(config, 'utf8')).split('\n');
  const example = (await readFile(join(ROOT, 'deploy/sensors.example.yaml'), 'utf8')).split('\n');
  const differ = written.flatMap((line, i) => (line === example[i] ? [] : [[example[i], line]]));
  assert.equal(differ.length, 1, JSON.stringify(differ));
  assert.match(differ[0]?.[0] ?? '', /^ {2}# url: mqtt:\/\//);
  assert.match(differ[0]?.[1] ?? '', new RegExp(`^ {2}url: ${escapeRegExp(STOCK)} +# `));
  assert.equal((await stat(config)).mode & 0o777, 0o640);
  const check = await run(process.execPath, [join(root, 'opt/w1mqtt/bin/w1mqtt.cjs'), 'check', '--config', config]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`publishing to ${escapeRegExp(STOCK)}`));

  // A sensors.yaml of the user's own is kept; what to set is printed.
  await writeFile(config, 'interval: 10s\n');
  const second = await install();
  assert.equal(second.code, 0, second.stderr);
  assert.equal(await readFile(config, 'utf8'), 'interval: 10s\n');
  assert.match(second.stdout, new RegExp(`set in /etc/w1mqtt/sensors.yaml: +mqtt: \\{ url: ${escapeRegExp(STOCK)} \\}`));
  assert.deepEqual(changes(await sys.calls()), []);
});

/** Resolves once something accepts on the unix socket `path`; rejects after `ms`. */
async function socketAccepts(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ path });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => (socket.destroy(), resolve(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts on ${path} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A python3 that the unprivileged user can run too (a pyenv shim under /root is not one). */
const python3 = () => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : findBinary('python3'));
const sandboxReady = () => Boolean(analyze() && python3() && findBinary('setpriv') && haveMosquitto());

test("the bundled broker's start passes the unit's system call filter: setpriv --pdeathsig, then mosquitto with its unix socket, a TCP listener and persistence", { timeout: 60_000, skip: !sandboxReady() && 'needs systemd-analyze, python3, setpriv and mosquitto' }, async (t) => {
  const unit = await readFile(UNIT, 'utf8');
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-sandbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'allowed'), [...(await allowedSyscalls(unit, analyze()))].join('\n') + '\n');
  const python = python3()!;
  // As the service: never root (mosquitto drops privileges with setuid only when it is root).
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const sandboxed = (...command: string[]) => [...asUser, python, join(ROOT, 'test/helpers/unit-sandbox.py'), join(dir, 'allowed'), ...allowedFamilies(unit).map(String), '--', ...command];

  // The filter is in force: raising one's own niceness (@resources) and a netlink socket are refused.
  const probe = ['import errno, os, socket', 'try: os.nice(1)\nexcept OSError as e: print(errno.errorcode[e.errno])', 'try: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)\nexcept OSError as e: print(errno.errorcode[e.errno])'];
  const control = sandboxed(python, '-c', probe.join('\n'));
  if (asUser.length) await chown(dir, 65534, 65534);
  const result = await run(control[0]!, control.slice(1));
  assert.equal(result.stdout, 'EPERM\nEAFNOSUPPORT\n', result.stderr);

  const port = await freePort();
  const sock = join(dir, 'mosquitto.sock');
  await writeFile(join(dir, 'mosquitto.conf'), [
    'per_listener_settings false',
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    `pid_file ${join(dir, 'mosquitto.pid')}`,
    'log_dest stderr',
    `listener 0 ${sock}`,
    `listener ${port} 127.0.0.1`,
    '',
  ].join('\n'));
  if (asUser.length) {
    for (const f of ['', 'allowed', 'mosquitto.conf']) await chown(join(dir, f), 65534, 65534);
  }
  // The launch src/broker uses under the service: setpriv --pdeathsig SIGTERM -- mosquitto -c <conf>.
  const argv = sandboxed('setpriv', '--pdeathsig', 'SIGTERM', '--', findBinary('mosquitto')!, '-c', join(dir, 'mosquitto.conf'));
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => stopChild(child));
  await Promise.race([socketAccepts(sock, 10_000), exited.then((code) => assert.fail(`mosquitto exited (${code}): ${stderr}`))]);

  const pub = await run(findBinary('mosquitto_pub')!, ['-h', '127.0.0.1', '-p', String(port), '-t', 'home/sandbox', '-m', '21.5', '-r', '-q', '1']);
  assert.equal(pub.code, 0, pub.stderr);
  const sub = await run(findBinary('mosquitto_sub')!, ['--unix', sock, '-t', 'home/sandbox', '-C', '1', '-W', '5']);
  assert.equal(sub.stdout, '21.5\n', sub.stderr);

  process.kill(child.pid!, 'SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /terminating/);
  assert.doesNotMatch(stderr, /not permitted|Error/i, stderr);
  await stat(join(dir, 'mosquitto.db')); // persistence written on the way out
});
