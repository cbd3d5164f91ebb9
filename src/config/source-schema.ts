import { z } from 'zod';
import { duration, hostName, port } from './fields.js';

/**
 * One entry of `sources:`: where the 1-Wire bus is read from. Each type is one way the
 * machine shows the bus (platform-facts §1, §2): the kernel's w1 sysfs, an OWFS FUSE
 * mount, or owserver's TCP protocol, here or on the machine the bus master is plugged into.
 */

const w1Source = z.strictObject({
  type: z.literal('w1'),
  path: z.string().min(1).default('/sys/bus/w1/devices'),
});

const owfsSource = z.strictObject({
  type: z.literal('owfs'),
  path: z.string().min(1).default('/mnt/1wire'),
  /** Read `/uncached/<dev>/temperature` so a value is never up to 15 s old. @default true */
  uncached: z.boolean().default(true),
});

const owserverSource = z.strictObject({
  type: z.literal('owserver'),
  /** owserver's address: this machine, or the one the bus master is plugged into. @default 127.0.0.1 */
  host: hostName.default('127.0.0.1'),
  port: port.default(4304),
  /** Per request, connect included. A 12-bit read takes ~0.75 s on the bus. @default 5s */
  timeout: duration(100).default(5000),
  /** Read `/uncached/<dev>/temperature`. @default true */
  uncached: z.boolean().default(true),
});

export const sourceSchema = z.discriminatedUnion('type', [w1Source, owfsSource, owserverSource]);

export type SourceConfig = z.output<typeof sourceSchema>;
