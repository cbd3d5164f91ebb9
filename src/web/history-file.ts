import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { SavedSeries } from './history.js';
import { errText } from '../system/err-text.js';

/**
 * history.json in the state directory: written once on a clean stop (an SD card
 * wears with every write, so never per reading) and read once at start.
 * Written to a temporary file, fsync'ed, then renamed over the old one, so a
 * power cut leaves either the old file or the new one, never half of one.
 */

export const HISTORY_FILE = 'history.json';

const values = z.array(z.number().finite().nullable());

const minutesSchema = z
  .strictObject({ t0: z.number().finite(), dt: z.array(z.number().int().min(0)), min: values, mean: values, max: values })
  .refine((m) => [m.min, m.mean, m.max].every((c) => c.length === m.dt.length), 'dt, min, mean and max must have the same length');

const seriesSchema = z
  .strictObject({
    intervalMs: z.number().int().min(1000),
    t0: z.number().finite(),
    dt: z.array(z.number().int().min(0)),
    v: values,
    /** Version 2: the day before the raw hour, a bucket a minute. */
    minutes: minutesSchema.optional(),
  })
  .refine((s) => s.dt.length === s.v.length, 'dt and v must have the same length');

const fileSchema = z.strictObject({
  format: z.literal('w1mqtt-history'),
  // 1: every point raw, the form without minute buckets: read too, so a saved history survives an upgrade; its older points fold into minutes as they load.
  version: z.union([z.literal(1), z.literal(2)]),
  savedAt: z.string(),
  sensors: z.record(z.string(), seriesSchema),
});

export type LoadOutcome =
  | { readonly kind: 'missing' }
  | { readonly kind: 'loaded'; readonly sensors: Record<string, SavedSeries> }
  /** Unreadable: moved aside to `keptAs` so the next save does not destroy it. */
  | { readonly kind: 'invalid'; readonly reason: string; readonly keptAs: string | undefined };

export function historyPath(stateDir: string): string {
  return join(stateDir, HISTORY_FILE);
}

export async function loadHistoryFile(path: string): Promise<LoadOutcome> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'invalid', reason: errText(err), keptAs: undefined };
  }
  let reason: string;
  try {
    const parsed = fileSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { kind: 'loaded', sensors: parsed.data.sensors };
    const issue = parsed.error.issues[0];
    reason = `${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}`;
  } catch (err) {
    reason = errText(err);
  }
  const keptAs = `${path}.invalid`;
  const moved = await rename(path, keptAs).then(
    () => true,
    () => false,
  );
  return { kind: 'invalid', reason, keptAs: moved ? keptAs : undefined };
}

/**
 * Writes the sensors as they come (an iterable: one sensor's JSON in memory at a time).
 * Returns the bytes written and the sensors, or undefined when there were none (nothing written).
 */
export async function saveHistoryFile(
  path: string,
  sensors: Record<string, SavedSeries> | Iterable<[string, SavedSeries]>,
  now: Date,
): Promise<{ bytes: number; sensors: number } | undefined> {
  const entries = Symbol.iterator in sensors ? sensors : Object.entries(sensors);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', 0o644);
  let bytes = 0;
  let count = 0;
  try {
    const write = async (text: string): Promise<void> => {
      bytes += Buffer.byteLength(text);
      await handle.write(text);
    };
    await write(`{"format":"w1mqtt-history","version":2,"savedAt":${JSON.stringify(now.toISOString())},"sensors":{`);
    for (const [key, series] of entries) {
      await write(`${count === 0 ? '' : ','}${JSON.stringify(key)}:${JSON.stringify(series)}`);
      count++;
    }
    await write('}}');
    if (count > 0) await handle.sync();
  } finally {
    await handle.close();
  }
  if (count === 0) {
    await rm(tmp, { force: true });
    return undefined;
  }
  await rename(tmp, path);
  return { bytes, sensors: count };
}
