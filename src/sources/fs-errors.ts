import type { ReadError } from './source.js';

/**
 * Map a filesystem error to a reading error. ENOENT means the device directory is
 * gone (the kernel drops a slave ~100 s after it stops answering; OWFS answers ENOENT
 * for a missing device and, after ~8 s, when owserver is down).
 */
export function fsReadError(err: unknown): ReadError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EUNKNOWN';
  if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') return { code: 'not_present' };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'io_error', errno: code, message };
}
