import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, parseConfigText } from '../../src/config/load.js';
import { isLoopbackHost } from '../../src/config/loopback.js';
import { defaultConfig } from '../../src/config/schema.js';
import { resolveStateDir } from '../../src/system/state-dir.js';
import { hostOnly } from '../../src/web/access.js';

const T = { timeout: 10_000 };

test('loopback: 127.0.0.0/8, ::1 and localhost only', T, () => {
  for (const h of ['127.0.0.1', '127.3.2.1', 'localhost', 'LOCALHOST', 'pi.localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.2', 'fe80::1', '::2', 'kitchenpi.local', 'localhost.example.com', '::ffff:192.168.1.1', '128.0.0.1']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test('web: defaults, and the same rule as the broker off loopback', T, () => {
  assert.deepEqual(defaultConfig().web, { enabled: true, host: '127.0.0.1', port: 8080, username: 'w1mqtt', allow_anonymous: false });
  const refused = parseConfigText('web:\n  host: 192.168.1.10\n  port: 8081\n', 'sensors.yaml');
  assert.ok(!refused.ok);
  assert.deepEqual(refused.problems.map(formatProblem), [
    'sensors.yaml:2:9 web.host: the page would be open to the network on 192.168.1.10 without a password: ' +
      'set web.password_file (or allow_anonymous: true to accept that), or keep host 127.0.0.1 and use an SSH tunnel',
  ]);
  for (const yaml of [
    'web:\n  host: 0.0.0.0\n  password_file: /etc/w1mqtt/web.pass\n',
    'web:\n  host: "::"\n  allow_anonymous: true\n',
    'web:\n  host: 0.0.0.0\n  enabled: false\n',
    'web:\n  host: localhost\n',
    'web:\n  port: 0\n',
  ]) {
    const r = parseConfigText(yaml, 'sensors.yaml');
    assert.ok(r.ok, `${yaml}: ${JSON.stringify(!r.ok && r.problems)}`);
  }
  const typo = parseConfigText('web:\n  allow_anonymus: true\n', 'sensors.yaml');
  assert.ok(!typo.ok);
  assert.match(formatProblem(typo.problems[0] ?? { file: '', line: 0, col: 0, path: '', message: '' }), /2:3 web\.allow_anonymus: unknown key "allow_anonymus" \(did you mean "allow_anonymous"\?\)/);
  assert.ok(!parseConfigText('web:\n  port: 70000\n', 'sensors.yaml').ok);
});

test('Host header: the host part, IPv6 in brackets', T, () => {
  assert.equal(hostOnly('localhost:8080'), 'localhost');
  assert.equal(hostOnly('[::1]:8080'), '::1');
  assert.equal(hostOnly('[::1]'), '::1');
  assert.equal(hostOnly('127.0.0.1'), '127.0.0.1');
  assert.equal(hostOnly('evil.example:80'), 'evil.example');
});

test('state dir: state_dir, then $STATE_DIRECTORY, then /var/lib/w1mqtt if writable, then the XDG state home', T, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const system = join(dir, 'var-lib', 'w1mqtt');
  const home = join(dir, 'home');
  assert.equal(await resolveStateDir({ configured: '/srv/w1', env: { STATE_DIRECTORY: '/x' } }), '/srv/w1');
  assert.equal(await resolveStateDir({ env: { STATE_DIRECTORY: '/var/lib/w1mqtt:/var/lib/other' }, systemDir: system }), '/var/lib/w1mqtt');
  // The parent does not exist: not writable.
  assert.equal(await resolveStateDir({ env: {}, home, systemDir: system }), join(home, '.local', 'state', 'w1mqtt'));
  assert.equal(await resolveStateDir({ env: { XDG_STATE_HOME: '/xdg' }, home, systemDir: system }), '/xdg/w1mqtt');
  assert.equal(await resolveStateDir({ env: { XDG_STATE_HOME: 'relative' }, home, systemDir: system }), join(home, '.local', 'state', 'w1mqtt'));
  await mkdir(join(dir, 'var-lib'));
  assert.equal(await resolveStateDir({ env: {}, home, systemDir: system }), system, 'may be created');
  await mkdir(system);
  assert.equal(await resolveStateDir({ env: {}, home, systemDir: system }), system);
  if (process.getuid?.() !== 0) {
    // Root may write anywhere, so only a normal user sees a read-only directory refused.
    await chmod(system, 0o500);
    assert.equal(await resolveStateDir({ env: {}, home, systemDir: system }), join(home, '.local', 'state', 'w1mqtt'));
  }
});
