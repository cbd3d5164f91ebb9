import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsReadError } from './fs-errors.js';
import { readAttribute } from './read-attribute.js';
import type { ReadResult } from '../readings/read-result.js';
import type { Measurement } from '../readings/kinds.js';
import { presence } from './measured-values.js';
import { valueFromOwfsText } from './owfs-value.js';

/**
 * One measurement through an OWFS FUSE mount (`dir` = <mount>/uncached/<device>):
 * a property file (`humidity`, `VAD`, …), or presence as the device's directory.
 * Through FUSE a stopped owserver looks the same as a device that left (ENOENT,
 * platform-facts §2.7), so it reads as `offline` here; owserver's protocol tells them apart.
 */
export async function readOwfsMeasurement(dir: string, measurement: Measurement): Promise<ReadResult> {
  const recipe = measurement.owfs;
  try {
    if (recipe.kind === 'presence') return presence((await stat(dir)).isDirectory());
    return valueFromOwfsText(await readAttribute(join(dir, recipe.property), true), measurement);
  } catch (err) {
    const error = fsReadError(err);
    if (recipe.kind !== 'presence' || error.code !== 'not_present') return { ok: false, error };
    // The mount itself gone is no news about the device.
    return (await isDirectory(dirname(dir))) ? presence(false) : { ok: false, error: { code: 'io_error', errno: 'ENOENT', message: `${dirname(dir)} is gone` } };
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
