import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';

/** The kinds of value sensors.yaml's sections share, each refused with a message that shows how to write it. */

/** A duration of at least `min` ms: `30s`, `5m`, `1h`, or seconds (config/duration.ts). */
export const duration = (min: number) =>
  z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(value)} (use e.g. 30s, 5m, 1h, or seconds)` });
        return z.NEVER;
      }
      if (ms < min) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${min / 1000}s` });
        return z.NEVER;
      }
      return ms;
    });

/** A size of at least `min` bytes (a whole number of KiB): `1MiB`, `512kB`, or bytes (config/size.ts). */
export const byteSize = (min: number, examples: string) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes < min) {
      ctx.addIssue({ code: 'custom', message: `not a size of at least ${min / 1024}KiB: ${JSON.stringify(value)} (use e.g. ${examples}, or bytes)` });
      return z.NEVER;
    }
    return bytes;
  });

/** A topic we publish to: no wildcards (MQTT-4.7.3-1 forbids them in PUBLISH), no NUL. */
export const topic = z
  .string()
  .min(1, 'a topic cannot be empty')
  .max(65535)
  .refine((t) => !/[+#\u0000]/.test(t), 'a topic to publish to cannot contain +, # or NUL')
  .refine((t) => !t.startsWith('$'), 'topics starting with $ are reserved for the broker');

export const port = z.number().int().min(1).max(65535);

/** A host name or address as written: `check` refuses a stray space as `run`'s listen() or connect() would. */
export const hostName = z.string().min(1).refine((h) => !/\s/.test(h), 'a host name or address cannot contain spaces');
