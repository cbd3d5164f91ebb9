import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES, ROOT } from '../helpers/agent-process.js';
import { findBinary } from '../helpers/mosquitto.js';
import { agentNodeFlags } from '../helpers/node-flags.js';
import { freePort } from '../helpers/ports.js';

/**
 * deploy/: the unit checked by systemd's own tools (systemd is not PID 1 here, so
 * offline), install.sh and uninstall.sh run into a temporary root, the udev rule's
 * command run against a copy of a sysfs tree.
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
  for (const line of ['Type=notify', 'Restart=on-failure', 'User=w1mqtt', 'Group=w1', 'StateDirectory=w1mqtt', 'ConfigurationDirectory=w1mqtt', 'ExecReload=/bin/kill -HUP $MAINPID']) {
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
