import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary, stopChild } from './mosquitto.js';

/**
 * A real owfs FUSE mount (Debian package `owfs-fuse`) over a test owserver, in a
 * temp dir, unmounted and stopped by PID afterwards.
 *
 * The daemon is started as /usr/libexec/owfs/owfs with an empty config file: Debian's
 * /usr/bin/owfs wrapper adds `-c /etc/owfs.conf`, whose `server = localhost:4304`
 * would connect a second owserver and list every device twice (platform facts §2.1).
 */

const MOUNT_WAIT_MS = 10_000;

export function owfsBinary(): string | undefined {
  const libexec = '/usr/libexec/owfs/owfs';
  return existsSync(libexec) ? libexec : findBinary('owfs');
}

/**
 * Why a FUSE mount cannot be tried here, or undefined when it can. As root with
 * /dev/fuse present nothing is a reason: a failing mount is then a test failure.
 */
export function fuseUnusable(): string | undefined {
  if (!existsSync('/dev/fuse')) return '/dev/fuse does not exist on this machine (a container without the fuse device?)';
  if (owfsBinary() === undefined) {
    if (process.env['CI']) throw new Error('owfs (owfs-fuse) is not installed; CI must not skip (apt-get install owfs-fuse)');
    return 'owfs is not installed (apt-get install owfs-fuse)';
  }
  if (process.getuid?.() === 0) return undefined;
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return `/dev/fuse is not readable and writable by uid ${process.getuid?.()} (run as root, or join the fuse group)`;
  }
  if (unmountCommand() === undefined) return 'no fusermount/fusermount3 to mount and unmount as a normal user';
  return undefined;
}

function unmountCommand(): string[] | undefined {
  for (const name of ['fusermount3', 'fusermount']) {
    const bin = findBinary(name);
    if (bin) return [bin, '-u'];
  }
  return process.getuid?.() === 0 ? [findBinary('umount') ?? 'umount'] : undefined;
}

function mountType(dir: string): string | undefined {
  // mountinfo: "<id> <parent> <maj:min> <root> <mount point> <opts> ... - <fstype> <source> <superopts>"
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields[4] !== dir) continue;
    return fields[fields.indexOf('-') + 1];
  }
  return undefined;
}

export interface OwfsMount {
  readonly path: string;
  readonly pid: number;
  /** The filesystem type in /proc/self/mountinfo (`fuse.OWFS`). */
  readonly type: string;
  log(): string;
  unmount(): Promise<void>;
}

export async function mountOwfs(owserverPort: number): Promise<OwfsMount> {
  const bin = owfsBinary();
  if (bin === undefined) throw new Error('owfs is not installed (apt-get install owfs-fuse)');
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-owfs-'));
  const path = join(dir, 'mnt');
  const conf = join(dir, 'empty.conf');
  await mkdir(path);
  await writeFile(conf, '');
  const args = ['-c', conf, '-s', `127.0.0.1:${owserverPort}`, '--allow_other', '--foreground', '-m', path];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: string) => (log = (log + chunk).slice(-16_000));
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  let unmounting: Promise<void> | undefined;
  const unmount = (): Promise<void> =>
    (unmounting ??= (async () => {
      if (mountType(path) !== undefined) {
        const [cmd = 'umount', ...rest] = unmountCommand() ?? ['umount'];
        const done = spawnSync(cmd, [...rest, path], { encoding: 'utf8', timeout: 10_000 });
        if (done.status !== 0) log += `\n${cmd} ${path}: ${done.stderr || done.error?.message}`;
      }
      await stopChild(child, 5_000);
      // rmdir, never a recursive delete: if the unmount failed this refuses (EBUSY)
      // instead of walking into a live owfs tree.
      await rmdir(path);
      await rm(conf, { force: true });
      await rmdir(dir);
    })());

  const deadline = Date.now() + MOUNT_WAIT_MS;
  for (;;) {
    const error = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    const ended = child.exitCode !== null || child.signalCode !== null;
    if (error || ended || Date.now() > deadline) {
      await unmount().catch(() => undefined);
      const why = error?.message ?? (ended ? `exited with ${child.exitCode ?? child.signalCode}` : `no mount after ${MOUNT_WAIT_MS} ms`);
      throw new Error(`${bin} ${args.join(' ')}: ${why}\n${log}`);
    }
    const type = mountType(path);
    if (type !== undefined && (await isDir(join(path, 'settings')))) return { path, pid: child.pid ?? -1, type, log: () => log, unmount };
    await sleep(50);
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
