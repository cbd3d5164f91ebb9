import type { ConvertResult, ReadError } from './source.js';
import { errText } from '../system/err-text.js';

/**
 * Map a filesystem error to a reading error. ENOENT means the device directory is
 * gone (the kernel drops a slave ~100 s after it stops answering; OWFS answers ENOENT
 * for a missing device and, after ~8 s, when owserver is down).
 */
export function fsReadError(err: unknown): ReadError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EUNKNOWN';
  if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') return { code: 'not_present' };
  const message = errText(err);
  return { code: 'io_error', errno: code, message };
}

/**
 * A failed bulk-conversion write. `permanent` when a later try cannot work either: no
 * permission (therm_bulk_read is root-only without a udev rule), a read-only /sys or FUSE
 * mount (systemd's ProtectKernelTunables / ProtectSystem), or no such file (kernels before
 * 5.8, or no bulk-capable sensor on the bus: the kernel only creates it for those).
 */
export function convertFailure(err: unknown): ConvertResult {
  const errno = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EUNKNOWN';
  const message = errText(err);
  return { ok: false, error: { code: 'io_error', errno, message }, permanent: ['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'EISDIR'].includes(errno) };
}

/** What the user can do about an errno from a 1-Wire file, for the fault's log line. */
export function errnoHint(errno: string): string | undefined {
  switch (errno) {
    case 'ENOTCONN':
      // A FUSE mount whose daemon died answers every access with ENOTCONN (platform-facts §0.9).
      return 'the OWFS mount is stale (owfs exited): restart owfs or remount it';
    case 'EACCES':
    case 'EPERM':
      return "permission denied: the agent's user may not read it (OWFS mounted without allow_other? file mode?)";
    case 'EIO':
      return 'bus I/O error: check wiring, the pull-up resistor and cable length';
    default:
      return undefined;
  }
}
