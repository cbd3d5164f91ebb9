import type { ConvertResult, ReadError } from '../readings/read-result.js';
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
