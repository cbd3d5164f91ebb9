import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeviceId } from '../onewire/ids.js';
import { w1SlaveText, type Resolution } from '../onewire/scratchpad-encode.js';
import { convTimeMs } from './bus-model.js';

/**
 * The directory tree of a simulated /sys/bus/w1/devices (platform-facts §1.1–1.3): one real
 * directory per master holding its attributes and its slaves, and a symlink per slave
 * at the top, as the kernel lays it out. `w1_slave`, `temperature` and `therm_bulk_read`
 * are left to the caller (FIFOs in the simulator, plain files in fixture-like trees).
 */

export interface SimSensorSpec {
  /** Sysfs name, e.g. `28-00000a010001`. */
  readonly name: string;
  readonly milli?: number;
  /** 9..12; family 10 ignores it (750 ms fixed). @default 12 */
  readonly resolution?: Resolution;
  /** false: parasite powered (`ext_power` reads 0). @default true */
  readonly external?: boolean;
}

export interface SimBusSpec {
  readonly sensors: readonly SimSensorSpec[];
}

/** `count` distinct DS18B20-style names on bus `bus` (1-based), e.g. `28-00000b010001`. */
export function sensorNames(count: number, bus: number, family = '28'): string[] {
  return Array.from({ length: count }, (_, i) => `${family}-${(bus * 0x10000 + i + 1).toString(16).padStart(12, '0')}`);
}

export function masterName(index: number): string {
  return `w1_bus_master${index + 1}`;
}

/** Write masters, slave directories (everything but the blocking files) and symlinks. */
export async function writeTree(devices: string, buses: readonly SimBusSpec[]): Promise<void> {
  await mkdir(devices, { recursive: true });
  for (const [index, bus] of buses.entries()) {
    const master = masterName(index);
    const dir = join(devices, master);
    await mkdir(dir, { recursive: true });
    const names = bus.sensors.map((s) => s.name);
    const masterFiles: Record<string, string> = {
      w1_master_name: `${master}\n`,
      w1_master_slaves: names.length > 0 ? names.map((n) => `${n}\n`).join('') : 'not found.\n',
      w1_master_slave_count: `${names.length}\n`,
      w1_master_max_slave_count: '64\n',
      w1_master_attempts: '1\n',
      w1_master_timeout: '10\n',
      w1_master_timeout_us: '0\n',
      w1_master_search: '-1\n',
      w1_master_pullup: '1\n',
    };
    for (const [file, text] of Object.entries(masterFiles)) await writeFile(join(dir, file), text);
    for (const sensor of bus.sensors) await writeSlave(devices, master, sensor);
  }
}

export async function writeSlave(devices: string, master: string, sensor: SimSensorSpec): Promise<void> {
  const id = parseDeviceId(sensor.name);
  if (!id || id.sysfs !== sensor.name) throw new Error(`not a sysfs slave name: ${sensor.name}`);
  const dir = join(devices, master, sensor.name);
  await mkdir(dir, { recursive: true });
  const resolution = sensor.resolution ?? 12;
  const files: Record<string, string | Uint8Array> = {
    name: `${sensor.name}\n`,
    id: id.rom,
    ext_power: sensor.external === false ? '0\n' : '1\n',
    conv_time: `${convTimeMs(id.family, resolution)}\n`,
    alarms: '70 75\n',
    features: '0\n',
  };
  if (id.family !== '10') files['resolution'] = `${resolution}\n`;
  if (id.family === '42') files['w1_seq'] = '0\n';
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  await rm(join(devices, sensor.name), { force: true });
  await symlink(`${master}/${sensor.name}`, join(devices, sensor.name));
}

/** Remove a slave the way the kernel does after slave_ttl missed searches. */
export async function removeSlave(devices: string, master: string, name: string): Promise<void> {
  await rm(join(devices, name), { force: true });
  await rm(join(devices, master, name), { recursive: true, force: true });
}

/** Plain-file `w1_slave`/`temperature` for a tree without delays (fixture style, for cost benches). */
export async function writePlainReadings(devices: string, buses: readonly SimBusSpec[]): Promise<void> {
  for (const [index, bus] of buses.entries()) {
    for (const sensor of bus.sensors) {
      const id = parseDeviceId(sensor.name);
      if (!id) continue;
      const text = w1SlaveText(id.family, sensor.milli ?? 20_000, id.family === '10' ? {} : { resolution: sensor.resolution ?? 12 });
      const dir = join(devices, masterName(index), sensor.name);
      await writeFile(join(dir, 'w1_slave'), text);
      await writeFile(join(dir, 'temperature'), `${/t=(-?\d+)/.exec(text)?.[1] ?? ''}\n`);
    }
    await writeFile(join(devices, masterName(index), 'therm_bulk_read'), '0\n');
  }
}
