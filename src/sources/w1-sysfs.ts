import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { deviceKind, measurementToRead } from '../devices/kinds.js';
import { readW1Measurement } from '../devices/read-w1.js';
import { chipName } from '../onewire/families.js';
import { isSysfsSlaveName, parseDeviceId } from '../onewire/ids.js';
import { readingFromW1Slave } from '../onewire/scratchpad.js';
import { fsReadError } from './fs-errors.js';
import type { Device, ReadResult, Source } from './source.js';

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

  constructor(options: W1SysfsOptions) {
    this.#path = options.path;
    this.name = `w1:${options.path}`;
  }

  async list(): Promise<Device[]> {
    const entries = await readdir(this.#path);
    const devices: Device[] = [];
    for (const entry of entries.sort()) {
      if (!isSysfsSlaveName(entry)) continue; // skips w1_bus_masterN
      const id = parseDeviceId(entry);
      if (!id || !deviceKind(id.family)) continue;
      devices.push({ id, name: entry, bus: await this.#busOf(entry), chip: chipName(id.family) });
    }
    return devices;
  }

  /** The slave's real directory sits under its master (`/sys/devices/w1_bus_master1/28-…`). */
  async #busOf(entry: string): Promise<string> {
    try {
      return dirname(await realpath(join(this.#path, entry)));
    } catch {
      return join(this.#path, 'w1_bus_master1');
    }
  }

  async read(device: Device): Promise<ReadResult> {
    const measurement = measurementToRead(device);
    if (measurement) return readW1Measurement(join(this.#path, device.name), measurement);
    let text: string;
    try {
      // One read blocks a libuv thread for the conversion (up to 750 ms); the
      // scheduler makes sure only one runs per bus.
      text = await readFile(join(this.#path, device.name, 'w1_slave'), 'latin1');
    } catch (err) {
      return { ok: false, error: fsReadError(err) };
    }
    return readingFromW1Slave(text);
  }

  async close(): Promise<void> {}
}

/** The bus name users know (`w1_bus_master1`), from a bus key. */
export function busLabel(bus: string): string {
  return basename(bus);
}
