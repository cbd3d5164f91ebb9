import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

/**
 * A real mosquitto on 127.0.0.1 for integration tests: its own config in a temp
 * dir, stopped by PID. Missing mosquitto skips locally but fails in CI.
 */

const READY_WAIT_MS = 5_000;
const KILL_GRACE_MS = 2_000;

/** An executable on PATH (or in the sbin dirs, where Debian puts mosquitto). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when mosquitto and its clients are installed. In CI a missing mosquitto is an error, never a skip. */
export function haveMosquitto(): boolean {
  const missing = ['mosquitto', 'mosquitto_sub', 'mosquitto_passwd'].filter((b) => findBinary(b) === undefined);
  if (missing.length === 0) return true;
  if (process.env['CI']) throw new Error(`${missing.join(', ')} not installed; integration tests must not skip in CI (apt-get install mosquitto mosquitto-clients)`);
  return false;
}

/** SIGTERM, then SIGKILL after 2 s; resolves when the process is gone (bounded). */
export async function stopChild(child: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
  const waitExit = async (ms: number): Promise<boolean> => {
    const timer = new AbortController();
    const timedOut = sleep(ms, false, { signal: timer.signal }).catch(() => false);
    try {
      return await Promise.race([exited, timedOut]);
    } finally {
      timer.abort();
    }
  };
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  if (await waitExit(graceMs)) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitExit(graceMs);
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  /** `mqtt+unix://<path>` when started with `unixSocket: true`. */
  readonly unixUrl: string | undefined;
  /** `ws://127.0.0.1:<port>` when started with `websockets: true`. */
  readonly wsUrl: string | undefined;
  readonly pid: number;
  /** What mosquitto has logged so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * `dataDir`: keep sessions and queued messages in that directory (mosquitto saves them on
 * SIGTERM and loads them at start), so a test can restart the broker without losing a
 * persistent subscriber's queue. The caller owns the directory. `acl`: an acl_file's text.
 * `unixSocket`: also listen on a unix socket in the temp dir (mosquitto ≥ 2.0: `listener 0 <path>`).
 * `websockets`: also listen for MQTT over WebSockets on another free port (`protocol websockets`).
 * mosquitto's default log_type includes `notice`, so log() has its connection lines:
 * `New client connected from … as <id> (p<protocol>, c<clean>, k<keepalive>)`.
 */
export async function startMosquitto(
  opts: { username?: string; password?: string; port?: number; dataDir?: string; acl?: string | undefined; unixSocket?: boolean; websockets?: boolean } = {},
): Promise<Mosquitto> {
  const bin = findBinary('mosquitto');
  if (bin === undefined) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-mosquitto-'));
  const port = opts.port ?? (await freePort());
  const conf = [
    `listener ${port} 127.0.0.1`,
    ...(opts.dataDir === undefined ? ['persistence false'] : ['persistence true', `persistence_location ${opts.dataDir}/`, 'max_queued_messages 1000000']),
    'log_dest stderr',
    // Run as root, mosquitto would switch to the `mosquitto` user, who cannot read our 0700 temp dir.
    `user ${userInfo().username}`,
  ];
  if (opts.username !== undefined) {
    const file = join(dir, 'passwd');
    const made = spawnSync(findBinary('mosquitto_passwd') ?? 'mosquitto_passwd', ['-b', '-c', file, opts.username, opts.password ?? ''], {
      timeout: READY_WAIT_MS,
      encoding: 'utf8',
    });
    if (made.status !== 0) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`mosquitto_passwd failed: ${made.stderr || made.error?.message}`);
    }
    conf.push('allow_anonymous false', `password_file ${file}`);
  } else {
    conf.push('allow_anonymous true');
  }
  if (opts.acl !== undefined) {
    // mosquitto.conf(5) acl_file: lines before any `user` line apply to anonymous clients.
    await writeFile(join(dir, 'acl'), opts.acl);
    conf.push(`acl_file ${join(dir, 'acl')}`);
  }
  // Last, so no listener-specific option above binds to it; the global ones (allow_anonymous,
  // password_file, acl_file) apply to every listener (per_listener_settings false, mosquitto.conf(5)).
  const socket = opts.unixSocket ? join(dir, 'mqtt.sock') : undefined;
  if (socket !== undefined) conf.push(`listener 0 ${socket}`);
  const wsPort = opts.websockets ? await freePort() : undefined;
  if (wsPort !== undefined) conf.push(`listener ${wsPort} 127.0.0.1`, 'protocol websockets');
  const confFile = join(dir, 'mosquitto.conf');
  await writeFile(confFile, conf.join('\n') + '\n');

  const child = spawn(bin, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log = (log + chunk).slice(-32_000)));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    })());

  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + READY_WAIT_MS;
  for (;;) {
    const failed = child.exitCode !== null || child.signalCode !== null;
    const error = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    if (failed || error || Date.now() > deadline) {
      await stop();
      const why = error?.message ?? (failed ? `exited with ${child.exitCode ?? child.signalCode}` : `not listening after ${READY_WAIT_MS} ms`);
      throw new Error(`mosquitto on port ${port}: ${why}\n${log}`);
    }
    if (await accepts(port)) break;
    await sleep(50);
  }
  return { port, url: `mqtt://127.0.0.1:${port}`, unixUrl: socket && `mqtt+unix://${socket}`, wsUrl: wsPort === undefined ? undefined : `ws://127.0.0.1:${wsPort}`, pid: child.pid ?? -1, log: () => log, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
