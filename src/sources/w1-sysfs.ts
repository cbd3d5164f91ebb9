import { readdir, readFile, realpath, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { deviceKind } from '../readings/kinds.js';
import { measurementToRead } from '../readings/device.js';
import { readW1Measurement } from './read-w1.js';
import { chipName } from '../readings/families.js';
import { isSysfsSlaveName, parseDeviceId } from '../onewire/ids.js';
import { readingFromW1Slave } from '../onewire/scratchpad.js';
import { convertFailure, fsReadError } from './fs-errors.js';
import { AttributeReader, writeAttribute } from './read-attribute.js';
import type { ConvertResult, ReadResult } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import type { Source } from './source.js';

export interface W1SysfsOptions {
  /** The kernel's bus directory, `/sys/bus/w1/devices` (a fixture tree in tests). */
  readonly path: string;
}

/**
 * The Linux w1 bus through sysfs. Reads `w1_slave` rather than `temperature`: every
 * kernel has it, it honours a bulk conversion, and its scratchpad bytes are what tell
 * a power-on 85 °C and a CRC failure apart (Documentation/w1/slaves/w1_therm.rst).
 */
export class W1SysfsSource implements Source {
  readonly name: string;
  readonly #path: string;
  /** `ext_power` per slave, read once: each read of it is a bus transaction (read_powermode). */
  readonly #parasite = new Map<string, boolean | undefined>();
  readonly #reader = new AttributeReader();
  readonly #slavePaths = new Map<string, string>();
  /** The device as last listed: a listing every 10 s would otherwise parse each id (and its CRC) again. */
  readonly #devices = new Map<string, Device>();

  constructor(options: W1SysfsOptions) {
    this.#path = options.path;
    this.name = `w1:${options.path}`;
  }

  async list(): Promise<Device[]> {
    const entries = await readdir(this.#path);
    this.#reader.keepOpen = await onSysfs(this.#path);
    const listed = new Set(entries);
    for (const gone of [...this.#parasite.keys()].filter((name) => !listed.has(name))) {
      this.#parasite.delete(gone);
      this.#slavePaths.delete(gone);
      this.#devices.delete(gone);
      this.#reader.forget(join(this.#path, gone, 'w1_slave'));
    }
    const buses = await this.#masters(entries);
    const devices: Device[] = [];
    for (const entry of entries.sort()) {
      if (!isSysfsSlaveName(entry)) continue; // skips w1_bus_masterN
      const known = this.#devices.get(entry);
      const id = known?.id ?? parseDeviceId(entry);
      if (!id || !deviceKind(id.family)) continue;
      const bus = buses.get(entry) ?? (await this.#busOf(entry));
      const parasite = await this.#parasiteOf(entry);
      if (known && known.bus === bus && known.parasite === parasite) {
        devices.push(known);
        continue;
      }
      const device: Device = { id, name: entry, bus, chip: chipName(id.family), ...(parasite !== undefined && { parasite }) };
      this.#devices.set(entry, device);
      devices.push(device);
    }
    return devices;
  }

  async #parasiteOf(entry: string): Promise<boolean | undefined> {
    if (this.#parasite.has(entry)) return this.#parasite.get(entry);
    // "1\n" external, "0\n" parasite, "-19\n" an error (ext_power_show); absent before 5.8.
    const text = await readFile(join(this.#path, entry, 'ext_power'), 'latin1').catch(() => '');
    const value = text.trim() === '0' ? true : text.trim() === '1' ? false : undefined;
    this.#parasite.set(entry, value);
    return value;
  }

  /**
   * Each slave's master, from one readdir of each master's real directory
   * (`/sys/devices/w1_bus_master1/28-…`): a realpath per slave at every discovery would be
   * a thread-pool trip per sensor. A master that cannot be read leaves its slaves to #busOf.
   */
  async #masters(entries: readonly string[]): Promise<Map<string, string>> {
    const buses = new Map<string, string>();
    for (const master of entries.filter((e) => e.startsWith('w1_bus_master'))) {
      try {
        const real = await realpath(join(this.#path, master));
        for (const slave of await readdir(real)) buses.set(slave, real);
      } catch {
        // gone meanwhile (a USB master unplugged): its slaves vanish at the next listing
      }
    }
    return buses;
  }

  /** The slave's real directory sits under its master (`/sys/devices/w1_bus_master1/28-…`). */
  async #busOf(entry: string): Promise<string> {
    try {
      return dirname(await realpath(join(this.#path, entry)));
    } catch {
      return join(this.#path, 'w1_bus_master1');
    }
  }

  /** `<path>/<name>/w1_slave`, built once per device: a thousand sensors a second otherwise join() a thousand paths. */
  #slavePath(name: string): string {
    let path = this.#slavePaths.get(name);
    if (path === undefined) this.#slavePaths.set(name, (path = join(this.#path, name, 'w1_slave')));
    return path;
  }

  read(device: Device): Promise<ReadResult> {
    const measurement = measurementToRead(device);
    if (measurement) return readW1Measurement(join(this.#path, device.name), measurement);
    // One read blocks a libuv thread for the conversion (up to 750 ms); the scheduler
    // makes sure only one runs per bus. Chained, not awaited: one promise less per reading.
    return this.#reader.read(this.#slavePath(device.name)).then(readingFromW1Slave, readFailed);
  }

  /**
   * Bulk conversion: exactly "trigger\n" (8 bytes) to the master's `therm_bulk_read`; any
   * other length is ignored by the kernel (therm_bulk_read_store checks
   * `size == sizeof("trigger")`). The write itself sleeps for the longest conversion.
   * `bus` is the master's real directory (see #busOf).
   */
  async convertAll(bus: string): Promise<ConvertResult> {
    try {
      await writeAttribute(join(bus, 'therm_bulk_read'), 'trigger\n');
      return { ok: true };
    } catch (err) {
      return convertFailure(err);
    }
  }

  async close(): Promise<void> {
    this.#reader.closeAll();
  }
}

function readFailed(err: unknown): ReadResult {
  return { ok: false, error: fsReadError(err) };
}

const SYSFS_MAGIC = 0x62656572; // include/uapi/linux/magic.h

/** Real sysfs (kept fds are safe there), or `W1MQTT_KEEP_FDS=1` to measure that path on a copy. */
async function onSysfs(path: string): Promise<boolean> {
  if (process.env['W1MQTT_KEEP_FDS'] === '1') return true;
  try {
    return (await statfs(path)).type === SYSFS_MAGIC;
  } catch {
    return false;
  }
}
