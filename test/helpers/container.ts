import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AS_ROOT, run } from './debian-root.js';
import { processAlive } from '../../src/system/process-alive.js';

/**
 * A throwaway Debian container with systemd as its PID 1: `systemd-nspawn -b` on a cached
 * root under a tmpfs overlay (nothing it writes outlives it), its own network namespace
 * (only loopback), pure cgroup2 as on a Pi. There is no machined here, so commands go in
 * with nsenter into the namespaces of the container's PID 1. Stopped by PID: a poweroff,
 * then SIGKILL to its PID 1 (which ends its PID namespace) if that does not finish.
 * Each run leaves a record in the temp dir, so a run killed before its cleanup has its
 * container killed by the next one.
 */

export interface Bind {
  readonly host: string;
  readonly container: string;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Container {
  readonly name: string;
  /** The container's PID 1 (systemd), as the host numbers it. */
  readonly pid1: number;
  /** Runs a command inside, bounded by coreutils' timeout in there; resolves with its exit code. */
  exec(argv: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  sh(script: string, timeoutMs?: number): Promise<ExecResult>;
  /** A long-running command inside (a subscriber), ended by its own timeout in there after `timeoutMs`. */
  spawn(argv: readonly string[], timeoutMs: number): ChildProcess;
  /** What the container printed on its console (systemd's boot and shutdown). */
  console(): string;
  /** Powers it off and waits for it; idempotent. */
  stop(): Promise<void>;
}

const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', 'TERM=dumb', 'SYSTEMD_COLORS=0', 'SYSTEMD_PAGER=', 'SYSTEMD_URLIFY=0'];
const RECORDS = join(tmpdir(), 'w1mqtt-test-containers');
const BOOT_MS = 90_000;

export async function bootContainer(root: string, binds: readonly Bind[]): Promise<Container> {
  await reapLeftovers();
  const name = `w1mqtt-test-${process.pid}`;
  // A host booted with systemd gives nspawn a scope of its own. Elsewhere (a container, a CI
  // sandbox) nspawn keeps the cgroup it starts in and makes payload/ and supervisor/ below it:
  // a cgroup2 directory of this run's own, so two runs at once never share one.
  const hostSystemd = existsSync('/run/systemd/system');
  const cgroup = hostSystemd ? undefined : runCgroup(name);
  const enterCgroup = cgroup ? ['sh', '-c', 'mkdir -p "$1" && echo $$ >"$1/cgroup.procs" && shift && exec "$@"', 'sh', cgroup] : [];
  const argv = [
    ...AS_ROOT, ...enterCgroup, 'env', 'SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1', 'systemd-nspawn', '-D', root, '--volatile=overlay', '--boot', '--register=no',
    ...(hostSystemd ? [] : ['--keep-unit']), '--private-network', `--machine=${name}`, '--console=read-only', '--kill-signal=SIGRTMIN+4',
    ...binds.map((b) => `--bind-ro=${b.host}:${b.container}`),
  ];
  const [command = '', ...args] = argv;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  const keep = (chunk: Buffer): void => void (consoleText = (consoleText + chunk.toString('utf8')).slice(-64_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const launcher = child.pid ?? 0;
  let pid1 = 0;
  let nspawn = 0;
  /** nsenter processes still running: one whose command died with the container can be left stopped (job control), never exiting. */
  const entered = new Set<ChildProcess>();
  const stop = once(async () => {
    if (!gone) {
      // SIGTERM to nspawn: it sends --kill-signal (SIGRTMIN+4, poweroff) to the container's systemd.
      await signal(nspawn || launcher, 'TERM');
      if (!(await within(exited, 30_000))) {
        if (pid1) await signal(pid1, 'KILL');
        if (!(await within(exited, 5_000))) await signal(nspawn || launcher, 'KILL');
        await within(exited, 5_000);
      }
    }
    for (const p of entered) if (p.exitCode === null && p.signalCode === null) await signal(p.pid ?? 0, 'KILL');
    await run([...AS_ROOT, 'rm', '-rf', `/run/systemd/nspawn/propagate/${name}`], 10_000).catch(() => undefined);
    // Empty cgroups go with rmdir, deepest first; one still in use would refuse (EBUSY).
    if (cgroup) await run([...AS_ROOT, 'find', cgroup, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], 10_000).catch(() => undefined);
    rmSync(join(RECORDS, `${name}.json`), { force: true });
  });

  try {
    const deadline = Date.now() + BOOT_MS;
    while (!pid1) {
      if (gone || Date.now() > deadline) throw new Error(`systemd-nspawn did not start a container:\n${consoleText.slice(-4000)}`);
      await sleep(100);
      [nspawn, pid1] = await findPids(launcher);
    }
    mkdirSync(RECORDS, { recursive: true });
    writeFileSync(join(RECORDS, `${name}.json`), JSON.stringify({ owner: process.pid, nspawn, pid1, cgroup }));
    const container = makeContainer(name, pid1, () => consoleText, stop, entered);
    // `--wait`: until the boot is done; `degraded` (some unit failed) still runs our unit. Until
    // systemd has made its private socket, systemctl cannot connect: ask again.
    let state = await container.exec(['systemctl', 'is-system-running', '--wait'], Math.max(deadline - Date.now(), 5_000));
    while (/Failed to connect to bus/.test(state.stderr) && Date.now() < deadline) {
      await sleep(200);
      state = await container.exec(['systemctl', 'is-system-running', '--wait'], Math.max(deadline - Date.now(), 5_000));
    }
    if (!/^(running|degraded)/.test(state.stdout)) throw new Error(`the container did not boot: ${state.stdout}${state.stderr}\n${consoleText.slice(-4000)}`);
    return container;
  } catch (err) {
    await stop();
    throw err;
  }
}

function makeContainer(name: string, pid1: number, consoleText: () => string, stop: () => Promise<void>, entered: Set<ChildProcess>): Container {
  const enter = (argv: readonly string[], timeoutMs: number): string[] => [
    ...AS_ROOT, 'nsenter', '-t', String(pid1), '-m', '-u', '-i', '-n', '-p', '-C', '-r', '-w',
    'env', '-i', ...ENV, 'timeout', '-k', '2', `${Math.ceil(timeoutMs / 1000)}s`, ...argv,
  ];
  const track = (child: ChildProcess): ChildProcess => {
    entered.add(child);
    child.once('exit', () => entered.delete(child));
    return child;
  };
  const exec = (argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> =>
    new Promise((resolve) => {
      const [command = '', ...args] = enter(argv, timeoutMs);
      const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.once('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  return {
    name,
    pid1,
    exec,
    sh: (script, timeoutMs) => exec(['sh', '-ec', script], timeoutMs),
    spawn(argv, timeoutMs) {
      // A transient unit of the container's systemd, so the container's poweroff stops it like
      // any service (a bare process entered from outside held the poweroff up for 30 s).
      const secs = Math.ceil(timeoutMs / 1000);
      const unit = ['systemd-run', '--quiet', '--pipe', '--wait', '--collect', `--property=RuntimeMaxSec=${secs}`, '--', ...argv];
      const [command = '', ...args] = enter(unit, timeoutMs + 5_000);
      return track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    },
    console: consoleText,
    stop,
  };
}

/** `<cgroup2 mount><this process's cgroup>/<name>`: a cgroup of the run's own in the unified hierarchy (pure, or hybrid's unified/). */
function runCgroup(name: string): string | undefined {
  const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
  const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  return mount && own !== undefined ? join(mount, own, name) : undefined;
}

/** nspawn (the launcher itself, or sudo's child) and the container's systemd below it. */
async function findPids(launcher: number): Promise<[number, number]> {
  let nspawn = 0;
  const queue = [launcher];
  for (let depth = 0; depth < 4 && queue.length > 0; depth++) {
    for (const pid of queue.splice(0)) {
      const comm = await readProc(`/proc/${pid}/comm`);
      if (comm.trim() === 'systemd-nspawn') nspawn = pid;
      if (comm.trim() === 'systemd' && nspawn) return [nspawn, pid];
      const children = await readProc(`/proc/${pid}/task/${pid}/children`);
      queue.push(...children.split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return [nspawn, 0];
}

/** A root process's /proc file: read directly, or through sudo. */
async function readProc(path: string): Promise<string> {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return AS_ROOT.length === 0 ? '' : (await run([...AS_ROOT, 'cat', path], 5_000).catch(() => ({ stdout: '' }))).stdout;
  }
}

async function signal(pid: number, sig: 'TERM' | 'KILL'): Promise<void> {
  if (pid > 0) await run([...AS_ROOT, 'kill', `-${sig}`, String(pid)], 5_000).catch(() => undefined);
}

/** Containers of runs that died before their cleanup: killed by PID, if still what the record says. */
async function reapLeftovers(): Promise<void> {
  if (!existsSync(RECORDS)) return;
  for (const file of readdirSync(RECORDS)) {
    const path = join(RECORDS, file);
    try {
      const { owner, nspawn, pid1, cgroup } = JSON.parse(readFileSync(path, 'utf8')) as { owner: number; nspawn: number; pid1: number; cgroup?: string };
      if (processAlive(owner)) continue;
      if ((await readProc(`/proc/${pid1}/comm`)).trim() === 'systemd') await signal(pid1, 'KILL');
      if ((await readProc(`/proc/${nspawn}/comm`)).trim() === 'systemd-nspawn') await signal(nspawn, 'KILL');
      await sleep(1_000); // the kernel tears the PID namespace down
      if (cgroup?.includes('/w1mqtt-test-')) await run([...AS_ROOT, 'find', cgroup, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], 10_000).catch(() => undefined);
    } catch {
      // An unreadable record: nothing to go by.
    }
    rmSync(path, { force: true });
  }
}

function within(p: Promise<void>, ms: number): Promise<boolean> {
  // Unref'd: a timer left after the race must not keep the test process alive.
  return Promise.race([p.then(() => true), sleep(ms, false, { ref: false })]);
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
