import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { deviceKind } from '../readings/kinds.js';
import { measurementToRead } from '../readings/device.js';
import { readOwfsMeasurement } from './read-owfs.js';
import { chipName } from '../readings/families.js';
import { isOwfsDeviceName, parseDeviceId } from '../onewire/ids.js';
import { convertFailure, fsReadError } from './fs-errors.js';
import { readAttribute, writeAttribute } from './read-attribute.js';
import { readingFromOwfsText } from './owfs-value.js';
import type { ConvertResult, ReadResult } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import type { Source } from './source.js';

export interface OwfsMountOptions {
  /** Mount point of owfs (Debian's owfs.service mounts at /run/owfs; many guides use /mnt/1wire). */
  readonly path: string;
  /** Read `/uncached/<dev>/temperature`: a cached value can be 15 s old (owserver timeout_volatile). */
  readonly uncached: boolean;
}

/** An OWFS FUSE mount: one directory per device, `28.FF2D79A21603/temperature`. */
export class OwfsMountSource implements Source {
  readonly name: string;
  readonly #path: string;
  readonly #uncached: boolean;
  #hasUncachedDir: boolean | undefined;

  constructor(options: OwfsMountOptions) {
    this.#path = options.path;
    this.#uncached = options.uncached;
    this.name = `owfs:${options.path}`;
  }

  async list(): Promise<Device[]> {
    const entries = await readdir(this.#path);
    this.#hasUncachedDir = entries.includes('uncached');
    const devices: Device[] = [];
    for (const entry of entries.sort()) {
      if (!isOwfsDeviceName(entry)) continue;
      const id = parseDeviceId(entry);
      if (!id || !deviceKind(id.family)) continue;
      // OWFS serialises bus access itself; one queue per mount keeps us from piling up reads.
      devices.push({ id, name: entry, bus: this.name, chip: chipName(id.family) });
    }
    return devices;
  }

  async read(device: Device): Promise<ReadResult> {
    const dir = this.#uncached && this.#hasUncachedDir !== false ? join(this.#path, 'uncached', device.name) : join(this.#path, device.name);
    const measurement = measurementToRead(device);
    if (measurement) return readOwfsMeasurement(dir, measurement);
    try {
      return readingFromOwfsText(await readAttribute(join(dir, 'temperature'), true));
    } catch (err) {
      return { ok: false, error: fsReadError(err) };
    }
  }

  /**
   * OWFS's bulk conversion: writing 1 to `/simultaneous/temperature` sends SKIP ROM + CONVERT T
   * (owfs ow_simultaneous.c); reads of `/uncached/<dev>/temperature` soon after only fetch the
   * scratchpad (ow_1820.c checks for a valid simultaneous conversion first). EROFS when the
   * mount is read-only in a hardened unit (platform-facts §5.4).
   */
  async convertAll(_bus: string): Promise<ConvertResult> {
    try {
      await writeAttribute(join(this.#path, 'simultaneous', 'temperature'), '1');
      return { ok: true };
    } catch (err) {
      return convertFailure(err);
    }
  }

  async close(): Promise<void> {}
}

/** True when `path` looks like a live OWFS mount (it always has `settings` and `uncached`). */
export async function looksLikeOwfs(path: string): Promise<boolean> {
  try {
    return (await stat(join(path, 'settings'))).isDirectory();
  } catch {
    return false;
  }
}
