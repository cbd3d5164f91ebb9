/**
 * Regenerates fixtures/w1 (a /sys/bus/w1/devices tree) and fixtures/owfs (an OWFS 3.2p4
 * FUSE mount) from scripts/fixture-data.ts. Deterministic: same input, same bytes.
 *
 *   npx tsx scripts/make-fixtures.ts [output-root]     (default: the repo's fixtures/)
 *
 * File formats: /work/shared/reference/platform-facts.md §1.1–1.6 (sysfs), §2.2–2.10 (OWFS).
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chipName } from '../src/readings/families.js';
import { parseDeviceId } from '../src/onewire/ids.js';
import { type DeviceId } from '../src/readings/device.js';
import {
  OWFS_OTHERS, OWFS_SYSTEM_FILES, OWFS_THERMOMETERS, OWFS_TYPE, W1_SLAVES,
  type OwfsThermSpec, type W1SlaveSpec,
} from './fixture-data.js';
import {
  bytesFromHex, encodeScratchpad, formatW1Slave, hexBytes, kernelMilli, type Resolution,
} from '../src/onewire/scratchpad-encode.js';

type Files = Record<string, string | Uint8Array>;

export const DEFAULT_ROOT = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** (Re)write `<root>/w1` and `<root>/owfs`; nothing else under root is touched. */
export async function makeFixtures(root: string = DEFAULT_ROOT): Promise<void> {
  for (const sub of ['w1', 'owfs']) await rm(join(root, sub), { recursive: true, force: true });
  await writeW1(join(root, 'w1'));
  await writeOwfs(join(root, 'owfs'));
}

function deviceId(text: string): DeviceId {
  const id = parseDeviceId(text);
  if (!id) throw new Error(`not a 1-Wire id: ${text}`);
  return id;
}

async function writeFiles(dir: string, files: Files): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

// ---------------------------------------------------------------- w1 sysfs

// w1_DS18B20_convert_time / w1_DS18S20_convert_time (750 ms fixed for family 10).
const CONV_TIME: Record<Resolution, number> = { 9: 95, 10: 190, 11: 375, 12: 750 };

/** The `w1_slave` text and the `temperature` text of one slave (both '' on failure). */
function thermReadout(family: string, spec: W1SlaveSpec): { w1Slave: string; temperature: string } {
  const read = spec.read;
  if (read.kind === 'empty' || read.kind === 'none' || read.kind === 'ds2438') return { w1Slave: '', temperature: '' };
  if (read.kind === 'encode') {
    const bytes = encodeScratchpad(family, read.milli, {
      ...(read.resolution !== undefined && { resolution: read.resolution }),
      ...(read.countRemain !== undefined && { countRemain: read.countRemain }),
    });
    if (read.hex !== undefined && hexBytes(bytes).trim() !== read.hex) {
      throw new Error(`${spec.id}: encoded ${hexBytes(bytes)}, platform-facts says ${read.hex}`);
    }
    const t = kernelMilli(family, bytes);
    if (t !== read.milli) throw new Error(`${spec.id}: kernel would print t=${t}, table says ${read.milli}`);
    return { w1Slave: formatW1Slave(bytes, t), temperature: `${t}\n` };
  }
  const bytes = bytesFromHex(read.hex);
  const t = kernelMilli(family, bytes, { legacy: read.legacy ?? false });
  const w1Slave = formatW1Slave(bytes, t, read.secondLineHex ? { secondLineBytes: bytesFromHex(read.secondLineHex) } : {});
  // A CRC failure on a ≥ 5.8 kernel leaves `temperature` empty (there was no such file before 5.8).
  return { w1Slave, temperature: w1Slave.includes(' YES\n') ? `${t}\n` : '' };
}

function slaveFiles(spec: W1SlaveSpec): Files {
  const id = deviceId(spec.id);
  if (id.sysfs !== spec.id) throw new Error(`${spec.id} is not in canonical sysfs form (${id.sysfs})`);
  const files: Files = { name: `${id.sysfs}\n`, id: id.rom };
  if (spec.read.kind === 'none') return files; // w1_smem: the core's name and id only
  if (spec.read.kind === 'ds2438') return { ...files, ...ds2438Files(spec.read) };
  const { w1Slave, temperature } = thermReadout(id.family, spec);
  const resolution = spec.read.kind === 'encode' ? (spec.read.resolution ?? 12) : 12;
  Object.assign(files, {
    w1_slave: w1Slave,
    temperature,
    conv_time: `${id.family === '10' ? 750 : CONV_TIME[resolution]}\n`,
    ext_power: '1\n',
    alarms: '70 75\n', // "%hd %hd\n" = TL TH (0x46, 0x4b)
    features: '0\n',
  });
  if (id.family !== '10') files['resolution'] = `${resolution}\n`;
  if (id.family === '42') files['w1_seq'] = '0\n';
  return files;
}

/**
 * w1_ds2438.c's binary attributes as they read: `temperature` "%i\n" of the raw register
 * (1/256 °C), `vad`/`vdd` "%u\n" (10 mV), `iad` "%i\n", `page0`/`page1` the 8 page bytes.
 * Page 0 is as a `vdd` read leaves it: status 0x0F (IAD, CA, EE on; AD = 1 selects VDD),
 * temperature, the VDD voltage, current 0, threshold 0. `offset` is write-only (0200 in
 * the kernel, a read fails); here it is an empty file.
 */
function ds2438Files(r: { temperature: number; vad: number; vdd: number; iad: number }): Files {
  const le16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];
  return {
    iad: `${r.iad}\n`,
    page0: Uint8Array.from([0x0f, ...le16(r.temperature), ...le16(r.vdd), ...le16(r.iad), 0x00]),
    page1: new Uint8Array(8),
    offset: '',
    temperature: `${r.temperature}\n`,
    vad: `${r.vad}\n`,
    vdd: `${r.vdd}\n`,
  };
}

function masterFiles(bus: number, slaves: readonly string[]): Files {
  return {
    w1_master_name: `w1_bus_master${bus}\n`,
    w1_master_slaves: slaves.length ? slaves.map((s) => `${s}\n`).join('') : 'not found.\n',
    w1_master_slave_count: `${slaves.length}\n`,
    w1_master_max_slave_count: '64\n',
    w1_master_attempts: '1440\n',
    w1_master_timeout: '10\n',
    w1_master_timeout_us: '0\n',
    w1_master_search: '-1\n',
    w1_master_pullup: '1\n',
    therm_bulk_read: '0\n',
  };
}

async function writeW1(w1: string): Promise<void> {
  const devices = join(w1, 'devices');
  for (const bus of [1, 2]) {
    const master = `w1_bus_master${bus}`;
    const slaves = W1_SLAVES.filter((s) => s.bus === bus);
    await writeFiles(join(devices, master), masterFiles(bus, slaves.map((s) => s.id)));
    for (const spec of slaves) {
      await writeFiles(join(devices, master, spec.id), slaveFiles(spec));
      // Like /sys/bus/w1/devices/<slave> -> ../../../devices/w1_bus_master1/<slave>, but self-contained.
      await symlink(`${master}/${spec.id}`, join(devices, spec.id));
    }
  }
  await writeFile(join(w1, 'README.md'), w1Readme());
}

function expectation(spec: W1SlaveSpec): string {
  if (spec.read.kind === 'ds2438') {
    const r = spec.read;
    return `no \`w1_slave\`; temperature ${r.temperature / 256} °C, vad ${r.vad / 100} V, vdd ${r.vdd / 100} V`;
  }
  if (spec.expect === 'no_w1_slave') return 'no `w1_slave` (presence only)';
  if (spec.expect !== 'ok' || spec.read.kind !== 'encode') return `\`${spec.expect}\``;
  return `ok, ${spec.read.milli / 1000} °C (t=${spec.read.milli})`;
}

function w1Readme(): string {
  const rows = W1_SLAVES.map((s) => {
    const id = deviceId(s.id);
    return `| \`${id.sysfs}\` | \`${id.owfs}\` | ${chipName(id.family)} | ${s.bus} | ${s.what} | ${expectation(s)} |`;
  });
  const owfs = OWFS_THERMOMETERS.map((o) => `\`${deviceId(o.sysfs).owfs}\` (= \`${o.sysfs}\`${o.padded ? ', values padded to 12 columns' : ''})`);
  return `# fixtures/w1: a /sys/bus/w1/devices tree

Generated by \`npx tsx scripts/make-fixtures.ts\` from \`scripts/fixture-data.ts\`; do not edit by hand.
Formats: platform-facts.md §1.1–1.6. Point a w1 source at \`fixtures/w1/devices\`.

- \`devices/w1_bus_master1/\`, \`devices/w1_bus_master2/\`: real directories with the master attributes and the slave directories.
- \`devices/<slave>\`: a relative symlink \`w1_bus_masterN/<slave>\` (the kernel's point to \`../../../devices/…\`).
- A w1_therm slave has \`name\`, \`id\` (8 raw ROM bytes), \`w1_slave\`, \`temperature\`, \`resolution\` (not family 10),
  \`conv_time\`, \`ext_power\`, \`alarms\`, \`features\`, and \`w1_seq\` (family 42). The DS2401 has only \`name\` and \`id\`
  (w1_smem). The DS2438 (w1_ds2438) has \`iad\`, \`page0\`, \`page1\`, \`offset\` (write-only in the kernel; empty here),
  \`temperature\` (1/256 °C), \`vad\` and \`vdd\` (10 mV); its humidity is computed from those, as OWFS does.
- Kernel eras are mixed on purpose: the \`crc=c9 NO\` slave is what kernels < 5.8 print (its \`t=-62\` uses the
  pre-5.11 formula); everything else is 6.x. \`temperature\` is empty where a 6.x kernel would fail the read.

| sysfs id | OWFS id | chip | bus | what it represents | expected \`readingFromW1Slave\` outcome |
|---|---|---|---|---|---|
${rows.join('\n')}

fixtures/owfs holds the same chips as ${owfs.join(', ')}, plus the DS2438 \`26.3B9A01000000\` (= \`26-000000019a3b\`) and the DS2401.
`;
}

// ---------------------------------------------------------------- OWFS

/**
 * OWFS's %G, trimmed: 6 significant digits, no trailing zeros. Only for values that need no
 * rounding (JS rounds ties up where glibc rounds to even) and no exponent.
 */
function formatG(x: number): string {
  const text = String(x);
  if (Number(x.toPrecision(6)) !== x || /e/i.test(text)) throw new RangeError(`formatG(${x}) would need rounding`);
  return text;
}

/** ow_1820.c: DS18B20-style register / 16, or the DS18S20 COUNT_REMAIN formula. */
function owfsCelsius(family: string, b: Uint8Array): number {
  const reg = (((b[1] ?? 0) << 24) | ((b[0] ?? 0) << 16)) >> 16;
  if (family !== '10') return reg / 16;
  const countPerC = b[7] ?? 16;
  return (reg >> 1) - 0.25 + (countPerC - (b[6] ?? 0)) / countPerC;
}

function identityFiles(id: DeviceId): Files {
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();
  return {
    address: hex(id.rom),
    crc8: hex(id.rom.subarray(7)),
    family: id.family.toUpperCase(),
    id: id.owfs.slice(3),
    r_address: hex(id.rom.slice().reverse()),
    r_id: id.sysfs.slice(3).toUpperCase(),
    type: OWFS_TYPE[id.family] ?? '',
  };
}

function thermometerFiles(spec: OwfsThermSpec): Files {
  const id = deviceId(spec.sysfs);
  const w1 = W1_SLAVES.find((s) => s.id === id.sysfs)?.read;
  if (w1?.kind !== 'encode') throw new Error(`${spec.sysfs}: not an encoded thermometer in W1_SLAVES`);
  const num = (x: number): string => (spec.padded ? formatG(x).padStart(12) : formatG(x));
  const at = (resolution?: Resolution): number =>
    owfsCelsius(id.family, encodeScratchpad(id.family, w1.milli, resolution ? { resolution } : {}));
  const files: Files = {
    ...identityFiles(id),
    latesttemp: num(at()),
    power: '1',
    temperature: num(at()), // OWFS reads `temperature` at 12 bits
    temphigh: num(75),
    templow: num(70),
  };
  if (id.family !== '10') {
    for (const r of [9, 10, 11, 12] as const) files[`temperature${r}`] = num(at(r));
    files['fasttemp'] = num(at(9)); // fasttemp = temperature9 (DS18B20.3)
    files['tempres'] = spec.padded ? '12'.padStart(12) : '12';
  }
  return files;
}

async function writeOwfs(owfs: string): Promise<void> {
  const devices: [string, Files][] = [
    ...OWFS_THERMOMETERS.map((spec): [string, Files] => [deviceId(spec.sysfs).owfs, thermometerFiles(spec)]),
    ...Object.entries(OWFS_OTHERS).map(([name, extra]): [string, Files] => [name, { ...identityFiles(deviceId(name)), ...extra }]),
  ];
  for (const [name, files] of devices) {
    await writeFiles(join(owfs, name), files);
    await writeFiles(join(owfs, 'uncached', name), files);
  }
  await writeFiles(owfs, OWFS_SYSTEM_FILES);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(process.argv[2] ?? DEFAULT_ROOT);
  await makeFixtures(root);
  console.log(`wrote ${join(root, 'w1')} and ${join(root, 'owfs')}`);
}
