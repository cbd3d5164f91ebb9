import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './agent-process.js';

/**
 * A Debian bookworm root for systemd-nspawn, made by Debian's debootstrap from the Debian
 * mirror and kept between runs outside the checkout. Containers boot it read-only under a
 * tmpfs overlay (`--volatile=overlay`), so one cached root serves every run unchanged.
 */

const SUITE = 'bookworm';
/**
 * systemd as PID 1; Debian's mosquitto (the bundled broker) and its clients (mosquitto_sub);
 * procps for pgrep. Everything install.sh calls is in minbase (util-linux's setpriv too).
 */
const INCLUDE = ['systemd', 'systemd-sysv', 'dbus', 'procps', 'mosquitto', 'mosquitto-clients'];
/**
 * After debootstrap, in the new root. The package enables Debian's mosquitto.service; a
 * machine where mosquitto is installed but that unit is off is what install.sh (scripts/lib.sh
 * mosquitto_setup) leaves to w1mqtt's bundled broker, so the test installs that case.
 */
const PREPARE = 'chroot "$tmp" systemctl disable --quiet mosquitto.service && rm -f "$tmp"/var/cache/apt/archives/*.deb';

/** Commands as root: directly, or through passwordless sudo (a CI runner's user). */
export const AS_ROOT: readonly string[] = process.getuid?.() === 0 ? [] : ['sudo', '-n'];

/** Where the root and the runs' records live: $W1MQTT_TEST_CACHE, $XDG_CACHE_HOME/w1mqtt-test, else /var/cache/w1mqtt-test. */
export function cacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  const dir = process.env['W1MQTT_TEST_CACHE'] || (xdg ? join(xdg, 'w1mqtt-test') : process.getuid?.() === 0 ? '/var/cache/w1mqtt-test' : join(homedir(), '.cache', 'w1mqtt-test'));
  if (!relative(ROOT, dir).startsWith('..')) throw new Error(`the container cache ${dir} must not be inside the checkout ${ROOT}`);
  return dir;
}

/** Why this machine cannot boot a container, or undefined when it can try. */
export function containerSupport(): string | undefined {
  const missing = ['debootstrap', 'systemd-nspawn', 'nsenter', 'chroot', 'flock'].filter((b) => !onPath(b));
  if (missing.length > 0) return `${missing.join(', ')} not installed (apt-get install debootstrap systemd-container; the test command installs them)`;
  if (process.getuid?.() !== 0 && !sudoWorks()) return 'needs root, or sudo without a password: systemd-nspawn and debootstrap run as root';
  if (process.getuid?.() === 0) {
    // CAP_SYS_ADMIN (bit 21): mounts and namespaces, which nspawn needs (an unprivileged container has none).
    const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (eff === undefined || (BigInt(`0x${eff}`) & (1n << 21n)) === 0n) return 'no CAP_SYS_ADMIN: this machine (an unprivileged container?) cannot boot a container';
  }
  if (!existsSync('/sys/fs/cgroup/cgroup.controllers') && !existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) return 'no cgroup2 hierarchy: systemd 252 in the container needs one';
  return undefined;
}

/**
 * The cached root's path, built once (about a minute from deb.debian.org) under a lock, so
 * two test runs at once build it once. A root from another recipe is removed then.
 */
export async function debianRoot(log: (line: string) => void): Promise<string> {
  const mirror = process.env['W1MQTT_TEST_MIRROR'] || 'http://deb.debian.org/debian';
  const recipe = JSON.stringify([SUITE, INCLUDE, PREPARE, mirror]);
  const dir = cacheDir();
  const root = join(dir, `debian-${SUITE}-${createHash('sha256').update(recipe).digest('hex').slice(0, 10)}`);
  if (existsSync(join(root, '.w1mqtt-root'))) return root;
  log(`building the Debian ${SUITE} root in ${root} (debootstrap from ${mirror}; cached for the next runs)`);
  const script = [
    'set -eu',
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH',
    'root="$1"; mirror="$2"; include="$3"',
    '[ -e "$root/.w1mqtt-root" ] && exit 0', // built by another run while this one waited for the lock
    'for old in "$(dirname "$root")"/debian-*; do [ "$old" = "$root" ] || rm -rf --one-file-system "$old"; done',
    'tmp="$root.tmp"',
    'rm -rf --one-file-system "$tmp"',
    `debootstrap --variant=minbase --include="$include" ${SUITE} "$tmp" "$mirror" >"$tmp.log" 2>&1 || { tail -n 30 "$tmp.log" >&2; exit 1; }`,
    PREPARE,
    'date -u +%FT%TZ >"$tmp/.w1mqtt-root"',
    'mv "$tmp" "$root"',
    'rm -f "$tmp.log"',
  ].join('\n');
  await run([...AS_ROOT, 'mkdir', '-p', dir], 10_000);
  await run([...AS_ROOT, 'flock', '-w', '900', join(dir, '.lock'), 'sh', '-c', script, 'build-root', root, mirror, INCLUDE.join(',')], 900_000);
  return root;
}

/** Runs a command to completion; rejects with its output when it fails or outlasts `timeoutMs`. */
export function run(argv: readonly string[], timeoutMs: number, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  const [command = '', ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

function onPath(binary: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d !== '' && existsSync(join(d, binary)));
}

function sudoWorks(): boolean {
  return spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
}
