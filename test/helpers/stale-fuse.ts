import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { findBinary } from './mosquitto.js';

/**
 * A real stale FUSE mount, the state an OWFS mount is in after owfs died: mount a FUSE
 * filesystem over `dir` and close /dev/fuse at once, so no daemon ever answers. From
 * then on every access under `dir` fails with ENOTCONN, as the kernel does for an
 * aborted FUSE connection. Needs root (mount(2)) and /dev/fuse; `mount -i` skips the
 * mount.fuse helper, which would try to start a daemon.
 */

/** Why a stale mount cannot be made here, or undefined when it can. Never a skip in CI. */
export function staleFuseUnavailable(): string | undefined {
  const why =
    process.getuid?.() !== 0 ? 'mounting needs root' : !existsSync('/dev/fuse') ? 'no /dev/fuse' : findBinary('mount') === undefined ? 'no mount(8)' : undefined;
  if (why !== undefined && process.env['CI']) throw new Error(`cannot make a stale FUSE mount in CI: ${why}`);
  return why;
}

/** Mounts the dead filesystem over `dir`; the returned function unmounts it (idempotent). */
export function mountStaleFuse(dir: string): () => void {
  const fd = openSync('/dev/fuse', 'r+');
  let result;
  try {
    result = spawnSync(findBinary('mount') ?? 'mount', ['-i', '-t', 'fuse', '-o', 'fd=3,rootmode=40000,user_id=0,group_id=0', 'w1mqtt-stale', dir], {
      stdio: ['ignore', 'pipe', 'pipe', fd],
      encoding: 'utf8',
      timeout: 5_000,
    });
  } finally {
    closeSync(fd);
  }
  if (result.status !== 0) throw new Error(`mount of a stale FUSE over ${dir} failed: ${result.stderr || result.error?.message}`);
  let mounted = true;
  return () => {
    if (!mounted) return;
    mounted = false;
    spawnSync(findBinary('umount') ?? 'umount', ['-l', dir], { stdio: 'ignore', timeout: 5_000 });
  };
}
