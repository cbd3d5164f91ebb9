import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { atMost } from '../system/at-most.js';
import { CONF_FILE, PID_FILE } from './mosquitto-conf.js';

/** Resolves true once `child` has exited, false after `ms`. */
export async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  let onExit!: () => void;
  const exited = new Promise<void>((resolve) => child.once('exit', (onExit = () => resolve())));
  const outcome = await atMost(exited, ms);
  child.off('exit', onExit);
  return outcome !== 'timeout';
}

/** Whether something accepts connections on a unix socket. */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * A mosquitto left running by an agent that was killed without a chance to stop it
 * (its pid file names it, and its command line names our conf, so a recycled PID of
 * some other program is never touched): stopped before ours starts, so there are never
 * two brokers, and the port and persistence file are free.
 */
export async function killStaleBroker(dir: string, log: Logger): Promise<void> {
  const pid = Number((await readFile(join(dir, PID_FILE), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes(join(dir, CONF_FILE))) return;
  log.warn({ pid }, 'stopping a bundled broker left over from an earlier run');
  const alive = async (): Promise<boolean> => (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== '';
  for (const [signal, ms] of [['SIGTERM', 5_000], ['SIGKILL', 2_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // gone already
    }
    for (const until = Date.now() + ms; Date.now() < until; await sleep(50)) if (!(await alive())) return;
  }
}
