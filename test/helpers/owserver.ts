import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary, stopChild } from './mosquitto.js';
import { freePort } from './ports.js';

/**
 * A real owserver (Debian package `owserver`) on 127.0.0.1 with simulated devices:
 * `--fake` gives the ids asked for with random values on every read, `--tester`
 * gives predictable ids and fixed values (28 → 4, 10 → 1.7, 22 → 3.6 with owfs 3.2p4).
 * Stopped by PID.
 */

const READY_WAIT_MS = 10_000;

/** True when owserver and owdir are installed; in CI a missing one is an error, never a skip. */
export function haveOwserver(): boolean {
  const missing = ['owserver', 'owdir'].filter((b) => findBinary(b) === undefined);
  if (missing.length === 0) return true;
  if (process.env['CI']) throw new Error(`${missing.join(', ')} not installed; integration tests must not skip in CI (apt-get install owserver ow-shell)`);
  return false;
}

export interface Owserver {
  readonly port: number;
  readonly pid: number;
  /** What owserver printed (for failure messages). */
  log(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM (SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash; resolves when the process is gone. */
  kill(): Promise<void>;
}

/** `extra`: more owserver options, e.g. `--temperature_low=15` for the fake devices' range. */
export async function startOwserver(opts: { fake?: string[]; tester?: string[]; port?: number; extra?: string[] } = {}): Promise<Owserver> {
  const bin = findBinary('owserver');
  if (bin === undefined) throw new Error('owserver is not installed (apt-get install owserver)');
  const port = opts.port ?? (await freePort());
  const args = ['--foreground', '--error_print=2', '-p', `127.0.0.1:${port}`];
  if (opts.fake?.length) args.push(`--fake=${opts.fake.join(',')}`);
  if (opts.tester?.length) args.push(`--tester=${opts.tester.join(',')}`);
  args.push(...(opts.extra ?? []));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: string) => (log = (log + chunk).slice(-16_000));
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stopChild(child, 5_000));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  const deadline = Date.now() + READY_WAIT_MS;
  for (;;) {
    const error = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    const ended = child.exitCode !== null || child.signalCode !== null;
    if (error || ended || Date.now() > deadline) {
      await stop();
      const why = error?.message ?? (ended ? `exited with ${child.exitCode ?? child.signalCode}` : `not listening after ${READY_WAIT_MS} ms`);
      throw new Error(`owserver ${args.join(' ')}: ${why}\n${log}`);
    }
    if (await accepts(port)) break;
    await sleep(50);
  }
  return { port, pid: child.pid ?? -1, log: () => log, exited, stop, kill };
}

/** `owdir -s 127.0.0.1:<port> /` from ow-shell: the reference listing to compare with. */
export function owdir(port: number, path = '/'): string[] {
  const out = spawnSync(findBinary('owdir') ?? 'owdir', ['-s', `127.0.0.1:${port}`, path], { encoding: 'utf8', timeout: 10_000 });
  if (out.status !== 0) throw new Error(`owdir failed (${out.status}): ${out.stderr || out.error?.message}`);
  return out.stdout.split('\n').filter(Boolean);
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
