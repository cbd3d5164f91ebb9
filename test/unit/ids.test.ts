import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chipName, thermometerFamily } from '../../src/readings/families.js';
import { crc8 } from '../../src/onewire/crc8.js';
import { isOwfsDeviceName, isSysfsSlaveName, parseDeviceId } from '../../src/onewire/ids.js';

test('sysfs and OWFS notations name the same chip (serial bytes reversed)', () => {
  const a = parseDeviceId('28-0316a2792dff');
  const b = parseDeviceId('28.FF2D79A21603');
  assert.ok(a && b);
  assert.equal(a.sysfs, '28-0316a2792dff');
  assert.equal(a.owfs, '28.FF2D79A21603');
  assert.deepEqual(a, b);
  // OWFS `address` of this chip is 28FF2D79A216037A (platform facts 2.5).
  assert.equal(Buffer.from(a.rom).toString('hex').toUpperCase(), '28FF2D79A216037A');
});

test('OWFS input spellings without the dot and with a CRC suffix are accepted', () => {
  assert.equal(parseDeviceId('28FF2D79A21603')?.sysfs, '28-0316a2792dff');
  assert.equal(parseDeviceId('28.FF2D79A216037A')?.sysfs, '28-0316a2792dff');
  assert.equal(parseDeviceId('28.ff2d79a21603')?.sysfs, '28-0316a2792dff');
});

test('non-ids are refused', () => {
  for (const bad of ['', 'w1_bus_master1', '28-0316a2792df', '28-0316a2792dffx', '29-xyz', 'bus.0']) {
    assert.equal(parseDeviceId(bad), undefined, bad);
  }
  assert.equal(isSysfsSlaveName('w1_bus_master1'), false);
  assert.equal(isSysfsSlaveName('28-0316a2792dff'), true);
  assert.equal(isSysfsSlaveName('28-0316A2792DFF'), false, 'the kernel prints lowercase');
  assert.equal(isOwfsDeviceName('28.FF2D79A21603'), true);
  assert.equal(isOwfsDeviceName('uncached'), false);
});

test('crc8 matches the Dallas/Maxim examples', () => {
  assert.equal(crc8([0x28, 0xff, 0x2d, 0x79, 0xa2, 0x16, 0x03]), 0x7a);
  assert.equal(crc8([0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10]), 0x57);
  assert.equal(crc8(new Uint8Array(8)), 0, 'an all-zero scratchpad passes the CRC');
});

test('every DS18x20 family is a thermometer; other chips are not', () => {
  assert.deepEqual(['10', '22', '28', '3B', '42'].map((f) => thermometerFamily(f)?.chip), ['DS18S20', 'DS1822', 'DS18B20', 'DS1825/MAX31850', 'DS28EA00']);
  assert.equal(thermometerFamily('01'), undefined);
  assert.equal(thermometerFamily('26'), undefined);
  assert.equal(thermometerFamily('42')?.bulkRead, false, 'DS28EA00 has .bulk_read = false');
  assert.equal(chipName('26'), 'DS2438');
  assert.equal(chipName('ee'), 'family 0xee');
});
