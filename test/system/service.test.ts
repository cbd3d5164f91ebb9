import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { ROOT } from '../helpers/agent-process.js';
import { bootContainer } from '../helpers/container.js';
import { containerSupport, debianRoot, run } from '../helpers/debian-root.js';
import { until } from '../helpers/until.js';

/**
 * The service under a real systemd: a throwaway Debian bookworm container with systemd 252
 * as PID 1, Debian's mosquitto, the machine's node, this checkout installed by
 * deploy/install.sh, and a sensors.yaml on a copy of the fixture tree. Everything is read
 * where a user would read it: `systemctl show`/`status`, `journalctl`, `mosquitto_sub`
 * on the bundled broker, /proc and the cgroup tree inside the container.
 *
 * Without root, CAP_SYS_ADMIN, debootstrap or systemd-nspawn it is skipped, and in CI
 * (env CI) it fails instead. Cold (no cached root) add about a minute for debootstrap.
 */

const why = containerSupport();
const T = { timeout: 9 * 60_000, skip: why !== undefined && !process.env['CI'] ? why : false };
const CLIENT = 'w1mqtt-system-test';
const LIVING = '28-0316a2792dff';
const SLAVE = `/srv/w1/devices/w1_bus_master1/${LIVING}/w1_slave`;
/** until() for checks that run a command in the container: every 500 ms is often enough. */
const untilSeen = (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => until(what, check, timeoutMs, 500);
/** Three watchdog pings, 15 s apart, with room for the first. */
const FEED_WAIT_MS = 60_000;
const sensorsYaml = (topic: string): string =>
  [`mqtt: { client_id: ${CLIENT} }`, 'sources: [{ type: w1, path: /srv/w1/devices }]', 'interval: 2s', 'sensors:', `  ${LIVING}: { topic: ${topic}, name: Living room }`, ''].join('\n');

test('w1mqtt.service under systemd as PID 1: install, READY and STATUS, watchdog, reload, stop, sandbox', T, async (t) => {
  if (why) assert.fail(`this machine cannot boot a container for the system test: ${why}`);
  const started = Date.now();
  /** Diagnostics in the test's output, one line each (node:test escapes newlines). */
  const say = (...texts: string[]): void => {
    for (const line of texts.join('\n').trimEnd().split('\n')) t.diagnostic(line);
  };
  const root = await debianRoot((line) => t.diagnostic(line));
  const rootReady = Date.now();
  const npmCli = realpathSync((await run(['sh', '-c', 'command -v npm'], 5_000)).stdout.trim());
  const c = await bootContainer(root, [
    { host: realpathSync(process.execPath), container: '/usr/local/bin/node' },
    { host: dirname(dirname(npmCli)), container: '/usr/local/lib/node_modules/npm' },
    { host: ROOT, container: '/mnt/checkout' },
  ]);
  let installedOk = false;
  t.after(async () => {
    if (!installedOk) say('container console (last lines):', c.console().slice(-3000));
    const stopping = Date.now();
    await c.stop();
    t.diagnostic(`container powered off and removed in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
  });
  const booted = Date.now();
  const ok = async (script: string, timeoutMs = 60_000): Promise<string> => {
    const r = await c.sh(script, timeoutMs);
    assert.equal(r.code, 0, `${script}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const show = async (...props: string[]): Promise<Record<string, string>> =>
    Object.fromEntries((await ok(`systemctl show w1mqtt.service ${props.map((p) => `-p ${p}`).join(' ')}`)).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const journal = (since = ''): Promise<string> => ok(`journalctl -u w1mqtt.service --no-pager -o short-precise ${since}`);
  /** Retained messages on `topics`, as a subscriber arriving now gets them: topic → payload. */
  const retained = async (topics: string[]): Promise<Map<string, string>> => {
    const r = await c.exec(['mosquitto_sub', '-h', '127.0.0.1', '-F', '%t\t%p', '--retained-only', '-W', '4', ...topics.flatMap((x) => ['-t', x])], 10_000);
    return new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
  };

  // The checkout as a user has it, a fixture bus, and a sensors.yaml (install.sh keeps an existing one).
  await ok(
    [
      'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
      'mkdir -p /usr/src/w1mqtt /srv/w1 /etc/w1mqtt',
      // dist/ when built (install.sh builds it when missing or older than src/).
      'cd /mnt/checkout && for f in package.json package-lock.json README.md bin dist deploy fixtures web node_modules scripts src; do [ ! -e $f ] || cp -a $f /usr/src/w1mqtt/; done',
      'cp -a /usr/src/w1mqtt/fixtures/w1/devices /srv/w1/',
      `cat >/etc/w1mqtt/sensors.yaml <<'EOF'\n${sensorsYaml('home/living/temperature')}EOF`,
    ].join('\n'),
  );
  const install = await c.exec(['/usr/src/w1mqtt/deploy/install.sh'], 180_000);
  assert.equal(install.code, 0, install.stdout + install.stderr);
  const installed = Date.now();
  installedOk = true; // from here on the journal says more than the console

  await t.test('READY, then a STATUS= with the sensors, the faults, the cycle and the broker', async () => {
    let s = await show('ActiveState', 'SubState');
    assert.deepEqual([s['ActiveState'], s['SubState']], ['active', 'running'], 'install.sh returns once systemctl restart did: after READY=1');
    await untilSeen('the STATUS= after the first cycles', async () => /^19 sensors \(5 failing\), last cycle \d+\.\d s, broker connected$/.test((await show('StatusText'))['StatusText'] ?? ''), 20_000);
    s = await show('StatusText', 'ExecMainStartTimestampMonotonic', 'ActiveEnterTimestampMonotonic', 'NRestarts', 'WatchdogUSec');
    assert.equal(s['WatchdogUSec'], '30s');
    const readyMs = (Number(s['ActiveEnterTimestampMonotonic']) - Number(s['ExecMainStartTimestampMonotonic'])) / 1000;
    assert.ok(readyMs > 0, `active ${readyMs} ms after exec: Type=notify waited for READY=1`);
    const log = await journal();
    assert.match(log, /w1mqtt\[\d+\]: systemd: ready: told systemd status="19 sensors, broker connected"/);
    assert.match(log, /systemd\[1\]: Started w1mqtt\.service/);
    const status = (await c.exec(['systemctl', 'status', 'w1mqtt', '--no-pager', '-n', '0'])).stdout;
    assert.match(status, /Status: "19 sensors \(5 failing\), last cycle \d+\.\d s, broker connected"/);
    say(`READY ${readyMs.toFixed(0)} ms after exec`, '$ systemctl status w1mqtt', status);
  });

  await t.test("the bundled mosquitto: Debian's, a child of w1mqtt in the unit's cgroup, user and sandbox", async () => {
    const main = (await show('MainPID'))['MainPID'] ?? '';
    const pids = (await ok('pgrep -x mosquitto')).trim().split('\n');
    assert.equal(pids.length, 1, "one mosquitto: the bundled one (Debian's mosquitto.service is off)");
    const mosq = pids[0] ?? '';
    assert.equal((await ok('systemctl is-active mosquitto.service || true')).trim(), 'inactive');
    const facts = await ok(
      [
        `readlink /proc/${mosq}/exe`,
        `awk '/^PPid|^Uid|^NoNewPrivs|^Seccomp:|^CapBnd|^CapEff/ {print $1, $2}' /proc/${mosq}/status`,
        `id -u w1mqtt`,
        `for ns in mnt user; do echo "$ns $(readlink /proc/${mosq}/ns/$ns) $(readlink /proc/${main}/ns/$ns) $(readlink /proc/1/ns/$ns)"; done`,
        'cat /sys/fs/cgroup/system.slice/w1mqtt.service/cgroup.procs',
      ].join('\n'),
    );
    const lines = facts.trim().split('\n');
    assert.equal(lines[0], '/usr/sbin/mosquitto');
    const status = Object.fromEntries(lines.slice(1, 7).map((l) => l.split(' ') as [string, string]));
    assert.deepEqual([status['PPid:'], status['Uid:'], status['NoNewPrivs:'], status['Seccomp:'], status['CapBnd:'], status['CapEff:']], [main, lines[7], '1', '2', '0000000000000000', '0000000000000000']);
    for (const ns of lines.slice(8, 10)) {
      const [kind, broker, agent, init] = ns.split(' ');
      assert.equal(broker, agent, `mosquitto shares w1mqtt's ${kind} namespace`);
      assert.notEqual(agent, init, `w1mqtt's ${kind} namespace is the unit's own (PrivateMounts/PrivateUsers), not PID 1's`);
    }
    assert.deepEqual(lines.slice(10).sort(), [main, mosq].sort(), "the unit's cgroup holds w1mqtt and mosquitto, nothing else");
  });

  await t.test('systemd-analyze security on the running unit: 2.0 or better', async () => {
    const out = (await c.exec(['systemd-analyze', 'security', 'w1mqtt.service', '--no-pager'])).stdout;
    const overall = /Overall exposure level for w1mqtt\.service: (\d+\.\d+) (\w+)/.exec(out);
    assert.ok(overall, out);
    assert.ok(Number(overall[1]) <= 2.0, overall[0]);
    t.diagnostic(overall[0]);
  });

  await t.test('systemctl reload remaps a sensor in place: its new topic and its availability are retained, the old ones cleared', async () => {
    const before = await show('MainPID');
    await ok(`cat >/etc/w1mqtt/sensors.yaml.new <<'EOF'\n${sensorsYaml('home/kitchen/temperature')}EOF\nmv /etc/w1mqtt/sensors.yaml.new /etc/w1mqtt/sensors.yaml\nsystemctl reload w1mqtt`);
    await untilSeen('the reload in the journal', async () => /config reloaded: sensors \+0 -0 ~1 \(28-0316a2792dff: topic\)/.test(await journal()), 20_000);
    let now = new Map<string, string>();
    await untilSeen('the new topic and its availability, retained', async () => {
      now = await retained(['home/kitchen/temperature', 'home/kitchen/temperature/availability', 'home/living/temperature', 'home/living/temperature/availability']);
      return now.has('home/kitchen/temperature') && now.has('home/kitchen/temperature/availability');
    }, 20_000);
    assert.equal(now.get('home/kitchen/temperature'), '23.13');
    assert.equal(now.get('home/kitchen/temperature/availability'), 'online');
    assert.ok(!now.has('home/living/temperature') && !now.has('home/living/temperature/availability'), [...now].join('\n'));
    const after = await show('MainPID', 'NRestarts', 'ActiveState');
    assert.deepEqual([after['MainPID'], after['NRestarts'], after['ActiveState']], [before['MainPID'], '0', 'active'], 'applied without a restart');
    assert.match(await journal(), /systemd\[1\]: Reloaded w1mqtt\.service/);
  });

  await t.test('the watchdog is fed: three pings seen, and NRestarts stays 0 meanwhile', async () => {
    const feeds = new Set<string>();
    const main = (await show('MainPID'))['MainPID'];
    // WATCHDOG=1 every 15 s: systemd's last-ping time takes three values, with no restart between them.
    await until(
      () => `three pings (the last-ping time took ${feeds.size} values)`,
      async () => {
        const s = await show('WatchdogTimestampMonotonic', 'NRestarts', 'MainPID');
        assert.deepEqual([s['NRestarts'], s['MainPID']], ['0', main]);
        feeds.add(s['WatchdogTimestampMonotonic'] ?? '');
        return feeds.size >= 3;
      },
      FEED_WAIT_MS,
      2_000,
    );
    assert.match(await journal(), /systemd: feeding the systemd watchdog intervalMs=15000/);
  });

  await t.test('a hung read (a FIFO in place of w1_slave) stops the pings: systemd restarts w1mqtt through its watchdog', async () => {
    const before = await show('MainPID');
    const since = `--since=@${Math.floor(Date.now() / 1000) - 1}`;
    await ok(`cp ${SLAVE} /root/w1_slave.good && rm ${SLAVE} && mkfifo -m 0644 ${SLAVE}`);
    const hung = Date.now();
    let log = '';
    await untilSeen('Watchdog timeout in the journal', async () => /Watchdog timeout/.test((log = await journal(since))), 75_000);
    // Back before the restart (RestartSec=5s), so the next w1mqtt reads a file again.
    await ok(`cp /root/w1_slave.good ${SLAVE}.new && mv -f ${SLAVE}.new ${SLAVE}`);
    const firedAfter = (Date.now() - hung) / 1000;
    // The agent stopped the pings on its own (a read stuck past WATCHDOG_USEC/2), and only then did systemd's limit run out.
    const withheld = log.search(/a read has not returned: no longer feeding the systemd watchdog/);
    assert.ok(withheld >= 0 && withheld < log.search(/Watchdog timeout/), log.slice(-4000));
    await untilSeen('w1mqtt active again', async () => {
      const s = await show('ActiveState', 'NRestarts', 'MainPID');
      return s['ActiveState'] === 'active' && s['NRestarts'] === '1' && s['MainPID'] !== before['MainPID'];
    }, 30_000);
    log = await journal(since);
    const lines = log.split('\n').filter((l) => /a read has not returned|Watchdog timeout|Main process exited|Failed with result|Scheduled restart|Started w1mqtt|ready: told systemd/.test(l));
    for (const expected of [/a read has not returned: no longer feeding the systemd watchdog/, /Watchdog timeout \(limit 30s\)!/, /Main process exited, code=killed, status=6\/ABRT/, /Failed with result 'watchdog'/, /Scheduled restart job, restart counter is at 1/, /Started w1mqtt\.service/]) {
      assert.ok(lines.some((l) => expected.test(l)), `${expected} not in\n${log.slice(-4000)}`);
    }
    say(`the hung read, from the journal (watchdog after ${firedAfter.toFixed(0)} s):`, ...lines);
    await untilSeen('the restarted w1mqtt online', async () => (await retained([`home/w1mqtt/${CLIENT}/status`])).get(`home/w1mqtt/${CLIENT}/status`) === 'online', 20_000);
  });

  await t.test('systemctl stop: offline published, exit 0, and mosquitto stops with it', async () => {
    const sub = c.spawn(['mosquitto_sub', '-h', '127.0.0.1', '-F', '%r\t%p', '-t', `home/w1mqtt/${CLIENT}/status`], 40_000);
    let out = '';
    sub.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await untilSeen('the retained online', async () => out.includes('1\tonline'), 10_000);
    const t0 = Date.now();
    const since = `--since=@${Math.floor(t0 / 1000) - 1}`;
    await ok('systemctl stop w1mqtt');
    say(`systemctl stop returned after ${Date.now() - t0} ms`);
    await untilSeen('offline on the status topic', async () => out.includes('\toffline'), 10_000);
    const s = await show('ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus');
    // ExecMainCode 1 is CLD_EXITED: it exited by itself, with status 0, not killed at TimeoutStopSec.
    assert.deepEqual([s['ActiveState'], s['Result'], s['ExecMainCode'], s['ExecMainStatus']], ['inactive', 'success', '1', '0']);
    assert.equal((await c.exec(['pgrep', '-x', 'mosquitto'])).code, 1, 'no mosquitto left');
    assert.equal((await c.sh('cat /sys/fs/cgroup/system.slice/w1mqtt.service/cgroup.procs 2>/dev/null || true')).stdout.trim(), '', 'nothing left in the cgroup');
    // w1mqtt stops its broker itself (after its offline went out), then exits; systemd had nothing left to kill.
    const log = await journal(since);
    const order = [/broker: mosquitto version [\d.]+ terminating/, /w1mqtt\[\d+\]: stopped/, /Deactivated successfully/].map((re) => log.search(re));
    assert.ok(order.every((i, n) => i >= 0 && i > (order[n - 1] ?? -1)), log);
    assert.doesNotMatch(log, /Killing process|SIGKILL/);
  });

  const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  t.diagnostic(`Debian root ${secs(rootReady - started)}, boot ${secs(booted - rootReady)}, install ${secs(installed - booted)}, all checks ${secs(Date.now() - started)}`);
});

