import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsReadError } from './fs-errors.js';
import { readAttribute } from './read-attribute.js';
import type { ReadResult } from '../readings/read-result.js';
import type { Measurement } from '../readings/kinds.js';
import { judge, parseKernelInt, presence } from './measured-values.js';

/**
 * One measurement of a slave other than a DS18x20, through the kernel's sysfs files
 * (`dir` = /sys/bus/w1/devices/<slave>). The DS2438's attributes are binary sysfs
 * files of size 0 that each start a conversion (~10 ms, w1_ds2438.c) and fail with EIO
 * when the chip does not answer; read until EOF, one after another.
 */
export async function readW1Measurement(dir: string, measurement: Measurement): Promise<ReadResult> {
  const recipe = measurement.w1;
  if (recipe.kind === 'presence') return presenceOf(dir);
  if (recipe.kind !== 'attributes') return { ok: false, error: { code: 'io_error', errno: 'EINVAL', message: `${measurement.name} is not read through attributes` } };
  const values: number[] = [];
  for (const { file, divisor } of recipe.files) {
    let text: string;
    try {
      text = await readAttribute(join(dir, file), true);
    } catch (err) {
      return { ok: false, error: fsReadError(err) };
    }
    if (text.length === 0) return { ok: false, error: { code: 'empty_read' } };
    const raw = parseKernelInt(text);
    if (raw === undefined) return { ok: false, error: { code: 'parse_error', raw: text } };
    values.push(raw / divisor);
  }
  return judge(measurement, recipe.combine ? recipe.combine(values) : (values[0] ?? NaN));
}

/**
 * w1_smem (DS2401) has nothing but `name` and `id`: present means the slave directory
 * is there. The kernel drops it after 10 searches without an answer (about 100 s).
 */
async function presenceOf(dir: string): Promise<ReadResult> {
  try {
    return presence((await stat(dir)).isDirectory());
  } catch (err) {
    const error = fsReadError(err);
    if (error.code !== 'not_present') return { ok: false, error };
    // No bus directory at all (w1 master gone, module unloaded) says nothing about this device.
    return (await isDirectory(dirname(dir))) ? presence(false) : { ok: false, error: { code: 'io_error', errno: 'ENOENT', message: `${dirname(dir)} is gone` } };
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
