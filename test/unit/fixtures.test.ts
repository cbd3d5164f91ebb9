import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc8 } from '../../src/onewire/crc8.js';
import { isOwfsDeviceName, isSysfsSlaveName, parseDeviceId } from '../../src/onewire/ids.js';
import { type DeviceId } from '../../src/readings/device.js';
import { parseW1SlaveText, readingFromW1Slave } from '../../src/onewire/scratchpad.js';
import type { ReadErrorCode } from '../../src/readings/read-result.js';
import { makeFixtures } from '../../scripts/make-fixtures.js';
import { encodeScratchpad, formatW1Slave, hexBytes, kernelMilli } from '../../src/onewire/scratchpad-encode.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const DEVICES = join(FIXTURES, 'w1', 'devices');
const OWFS = join(FIXTURES, 'owfs');

interface Expect {
  readonly bus: 1 | 2;
  /** The reading, or the ReadError code; 'ds2401' / 'ds2438' = not a w1_therm slave. */
  readonly outcome: number | ReadErrorCode | 'ds2401' | 'ds2438';
  /** The `t=` value; absent when `w1_slave` is empty. */
  readonly t?: number;
  /** Line-1 bytes where platform-facts §1.4 gives them. */
  readonly hex?: string;
  /** Printed by a kernel before 5.11 (plain s16 formula). */
  readonly legacy?: boolean;
}

// Written out by hand, independently of scripts/fixture-data.ts.
const W1: Readonly<Record<string, Expect>> = {
  '28-0316a2792dff': { bus: 1, outcome: 23125, t: 23125, hex: '72 01 4b 46 7f ff 0e 10 57' },
  '28-0316a27a1c44': { bus: 1, outcome: 25062, t: 25062, hex: '91 01 4b 46 7f ff 0f 10 25' },
  '28-3c01d607e1a2': { bus: 1, outcome: -10125, t: -10125, hex: '5e ff 4b 46 7f ff 02 10 b6' },
  '28-3c01d6075b3e': { bus: 1, outcome: -62, t: -62, hex: 'ff ff 4b 46 7f ff 01 10 9a' },
  '28-0000054c2ba1': { bus: 1, outcome: 21500, t: 21500, hex: '58 01 4b 46 1f ff 08 10 69' },
  '10-000802b4a1c3': { bus: 1, outcome: 22062, t: 22062, hex: '2d 00 4b 46 ff ff 0b 10 ab' },
  '28-01192e4f6a10': { bus: 1, outcome: 'power_on_reset', t: 85000, hex: '50 05 4b 46 7f ff 0c 10 1c' },
  '28-01192e4f8b27': { bus: 1, outcome: 'insufficient_power', t: 127937, hex: 'ff 07 4b 46 7f ff 0c 10 a6' },
  '28-0000072d91f5': { bus: 1, outcome: 'all_zero', t: 0, hex: '00 00 00 00 00 00 00 00 00' },
  '28-0000072d3e08': { bus: 1, outcome: 'crc_mismatch', t: -62, hex: 'ff ff ff ff ff ff ff ff ff', legacy: true },
  '28-0316a27b9d52': { bus: 1, outcome: 'empty_read' },
  '01-0000efbeadde': { bus: 1, outcome: 'ds2401' },
  '22-00000053e8a1': { bus: 2, outcome: 19500, t: 19500 },
  '3b-0000001852ad': { bus: 2, outcome: 30250, t: 30250 },
  '42-00000014a7e2': { bus: 2, outcome: 18062, t: 18062 },
  '26-000000019a3b': { bus: 2, outcome: 'ds2438' },
};

const read = (path: string): Promise<string> => readFile(path, 'utf8');

function id(text: string): DeviceId {
  const parsed = parseDeviceId(text);
  assert.ok(parsed, `${text} parses as a device id`);
  return parsed;
}

test('fixtures/w1: every slave link, name and id', async () => {
  const slaves = (await readdir(DEVICES)).filter(isSysfsSlaveName).sort();
  assert.deepEqual(slaves, Object.keys(W1).sort());
  for (const name of slaves) {
    const { bus } = W1[name] ?? assert.fail(name);
    const link = join(DEVICES, name);
    assert.ok((await lstat(link)).isSymbolicLink(), `${name} is a symlink`);
    assert.equal(await readlink(link), `w1_bus_master${bus}/${name}`);
    assert.ok((await realpath(link)).endsWith(`${sep}w1_bus_master${bus}${sep}${name}`));
    assert.equal(await read(join(link, 'name')), `${name}\n`);
    const rom = new Uint8Array(await readFile(join(link, 'id')));
    assert.equal(rom.length, 8);
    assert.equal(crc8(rom.subarray(0, 7)), rom[7], `${name}: ROM CRC`);
    assert.deepEqual(rom, id(name).rom);
  }
});

test('fixtures/w1: w1_slave CRC, outcome and kernel t= value', async () => {
  for (const [name, want] of Object.entries(W1)) {
    const dir = join(DEVICES, name);
    const family = id(name).family;
    if (want.outcome === 'ds2401') {
      assert.deepEqual((await readdir(dir)).sort(), ['id', 'name'], `${name}: w1_smem has only name and id`);
      continue;
    }
    if (want.outcome === 'ds2438') continue; // its own test below
    const text = await read(join(dir, 'w1_slave'));
    const temperature = await read(join(dir, 'temperature'));
    const result = readingFromW1Slave(text);
    if (typeof want.outcome === 'number') assert.deepEqual(result, { ok: true, milli: want.outcome }, name);
    else assert.equal(result.ok ? 'ok' : result.error.code, want.outcome, name);

    if (want.t === undefined) {
      assert.equal(text, '', `${name}: empty w1_slave`);
      assert.equal(temperature, '', `${name}: empty temperature`);
      continue;
    }
    const parsed = parseW1SlaveText(text) ?? assert.fail(`${name}: w1_slave parses`);
    const crc = crc8(parsed.bytes.subarray(0, 8));
    assert.equal(Number.parseInt(parsed.crc, 16), crc, `${name}: printed crc is crc8(bytes 0..7)`);
    const crcOk = want.outcome !== 'crc_mismatch';
    assert.equal(crc === parsed.bytes[8], crcOk, `${name}: byte 8 vs crc8`);
    assert.equal(parsed.crcOk, crcOk, `${name}: YES/NO`);
    if (want.hex !== undefined) assert.equal(hexBytes(parsed.bytes).trim(), want.hex, `${name}: bytes`);
    assert.equal(parsed.milli, want.t, `${name}: t=`);
    assert.equal(kernelMilli(family, parsed.bytes, { legacy: want.legacy ?? false }), want.t, `${name}: kernelMilli`);
    assert.equal(temperature, crcOk ? `${want.t}\n` : '', `${name}: temperature`);
    const files = await readdir(dir);
    assert.equal(files.includes('resolution'), family !== '10', `${name}: resolution`);
    assert.equal(files.includes('w1_seq'), family === '42', `${name}: w1_seq`);
  }
});

test('fixtures/w1: master attributes list their slaves', async () => {
  for (const bus of [1, 2]) {
    const dir = join(DEVICES, `w1_bus_master${bus}`);
    const children = (await readdir(dir)).filter(isSysfsSlaveName).sort();
    const expected = Object.keys(W1).filter((n) => W1[n]?.bus === bus).sort();
    assert.deepEqual(children, expected);
    const listed = (await read(join(dir, 'w1_master_slaves'))).split('\n');
    assert.equal(listed.pop(), '', 'ends with a newline');
    assert.deepEqual([...listed].sort(), expected);
    assert.equal(await read(join(dir, 'w1_master_slave_count')), `${expected.length}\n`);
    assert.equal(await read(join(dir, 'w1_master_name')), `w1_bus_master${bus}\n`);
    assert.equal(await read(join(dir, 'therm_bulk_read')), '0\n');
  }
});

test('fixtures/w1: the DS2438 has w1_ds2438\'s attributes, the same chip and values as the OWFS one', async () => {
  const dir = join(DEVICES, '26-000000019a3b');
  assert.deepEqual((await readdir(dir)).sort(), ['iad', 'id', 'name', 'offset', 'page0', 'page1', 'temperature', 'vad', 'vdd']);
  // "%i\n" / "%u\n" of the raw registers: 1/256 °C and 10 mV (Documentation/w1/slaves/w1_ds2438.rst).
  assert.equal(await read(join(dir, 'temperature')), '5592\n');
  assert.equal(await read(join(dir, 'vad')), '235\n');
  assert.equal(await read(join(dir, 'vdd')), '498\n');
  assert.equal(await read(join(dir, 'iad')), '0\n');
  assert.equal(await read(join(dir, 'offset')), '');
  // Page 0 after a VDD conversion: status 0x0F, temperature 0x15D8, voltage 0x01F2 (498), current 0, threshold 0.
  assert.deepEqual([...(await readFile(join(dir, 'page0')))], [0x0f, 0xd8, 0x15, 0xf2, 0x01, 0x00, 0x00, 0x00]);
  assert.deepEqual([...(await readFile(join(dir, 'page1')))], [0, 0, 0, 0, 0, 0, 0, 0]);
  const owfs = join(OWFS, '26.3B9A01000000');
  assert.equal(id('26.3B9A01000000').sysfs, '26-000000019a3b');
  assert.equal(Number(await read(join(owfs, 'temperature'))), Number((5592 / 256).toPrecision(6)));
  assert.equal(Number(await read(join(owfs, 'VAD'))), 2.35);
  assert.equal(Number(await read(join(owfs, 'VDD'))), 4.98);
  // OWFS's humidity (ow_2438.c FS_Humid) from those three, to %G's six digits.
  assert.equal(await read(join(owfs, 'humidity')), '49.8312');
  assert.equal(await read(join(owfs, 'type')), 'DS2438');
});

test('encodeScratchpad + formatW1Slave regenerate the 23.125 °C fixture byte for byte', async () => {
  const text = formatW1Slave(encodeScratchpad('28', 23125), 23125);
  assert.equal(text, '72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n');
  assert.equal(text, await read(join(DEVICES, '28-0316a2792dff', 'w1_slave')));
  assert.equal(kernelMilli('28', encodeScratchpad('28', -62)), -62); // 0xffff: C truncation, not -63
});

test('fixtures/owfs: device names and identity files agree with parseDeviceId', async () => {
  const top = (await readdir(OWFS)).filter(isOwfsDeviceName).sort();
  assert.deepEqual(top, [
    '01.DEADBEEF0000', '10.C3A1B4020800', '22.A1E853000000', '26.3B9A01000000', '28.441C7AA21603', '28.FF2D79A21603',
  ]);
  assert.deepEqual((await readdir(join(OWFS, 'uncached'))).sort(), top);
  for (const dir of [...top.map((n) => join(OWFS, n)), ...top.map((n) => join(OWFS, 'uncached', n))]) {
    const name = dir.slice(dir.lastIndexOf(sep) + 1);
    const dev = id(name);
    assert.equal(dev.owfs, name);
    const value = (file: string): Promise<string> => read(join(dir, file));
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();
    assert.equal(await value('id'), name.slice(3));
    assert.equal(await value('r_id'), dev.sysfs.slice(3).toUpperCase());
    assert.equal(await value('address'), hex(dev.rom));
    assert.equal(await value('r_address'), hex(dev.rom.slice().reverse()));
    assert.equal(await value('family'), name.slice(0, 2));
    assert.equal(await value('crc8'), hex(dev.rom.subarray(7)));
    for (const file of await readdir(dir)) {
      assert.ok((await lstat(join(dir, file))).isFile(), `${name}/${file} is a real file`);
      assert.ok(!(await value(file)).endsWith('\n'), `${name}/${file} has no newline`);
    }
  }
});

test('fixtures/owfs: thermometers are the fixtures/w1 chips, same readings', async () => {
  assert.equal(await read(join(OWFS, '28.FF2D79A21603', 'temperature')), '23.125');
  assert.equal(await read(join(OWFS, '28.FF2D79A21603', 'fasttemp')), '23');
  assert.equal(await read(join(OWFS, '28.441C7AA21603', 'temperature')), '     25.0625'); // %12G, owserver style
  assert.equal(await read(join(OWFS, '26.3B9A01000000', 'temperature')), '21.8438');
  for (const name of ['28.FF2D79A21603', '10.C3A1B4020800', '22.A1E853000000', '28.441C7AA21603']) {
    const sysfs = id(name).sysfs;
    const t = W1[sysfs]?.t ?? assert.fail(`${name}: ${sysfs} is in fixtures/w1`);
    const celsius = Number((await read(join(OWFS, name, 'temperature'))).trim());
    assert.equal(Math.trunc(celsius * 1000), t, `${name}: OWFS and the kernel agree`);
  }
  assert.equal(await read(join(OWFS, 'settings', 'units', 'temperature_scale')), 'C');
  assert.equal(await read(join(OWFS, 'system', 'configuration', 'version')), '3.2p4');
});

type Entry = readonly [path: string, kind: 'file' | 'dir' | 'link', content: string];

async function walk(root: string, rel = ''): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const stat = await lstat(join(root, path));
    if (stat.isSymbolicLink()) out.push([path, 'link', await readlink(join(root, path))]);
    else if (stat.isDirectory()) out.push([path, 'dir', ''], ...(await walk(root, path)));
    else out.push([path, 'file', (await readFile(join(root, path))).toString('base64')]);
  }
  return out;
}

test('scripts/make-fixtures.ts is deterministic and matches the committed trees', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'w1mqtt-fixtures-'));
  try {
    await makeFixtures(tmp);
    for (const sub of ['w1', 'owfs']) {
      assert.deepEqual(await walk(join(tmp, sub)), await walk(join(FIXTURES, sub)), `${sub} differs`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
