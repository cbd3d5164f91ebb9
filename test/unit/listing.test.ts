import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameListing } from '../../src/agent/listing.js';
import { parseDeviceId } from '../../src/onewire/ids.js';
import type { Device } from '../../src/readings/device.js';

function device(name: string, bus = 'w1_bus_master1', parasite?: boolean): Device {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { id, name, bus, chip: 'DS18B20', ...(parasite !== undefined && { parasite }) };
}

const w1 = { name: 'w1' };
const owfs = { name: 'owfs' };

test('a listing is the same when every source lists the same devices on the same buses, in fresh objects or not', { timeout: 5_000 }, () => {
  const before = [{ source: w1, devices: [device('28-0316a2792dff'), device('28-000005e2fdc3')] }];
  assert.equal(sameListing(before, before), true);
  assert.equal(sameListing(before, [{ source: w1, devices: [device('28-0316a2792dff'), device('28-000005e2fdc3')] }]), true);
});

test('a listing differs on a new, vanished or moved device, a power mode learnt, another source, or no listing before', { timeout: 5_000 }, () => {
  const before = [{ source: w1, devices: [device('28-0316a2792dff'), device('28-000005e2fdc3')] }];
  assert.equal(sameListing(undefined, before), false);
  assert.equal(sameListing(before, [{ source: w1, devices: [device('28-0316a2792dff')] }]), false, 'vanished');
  assert.equal(sameListing(before, [{ source: w1, devices: [device('28-0316a2792dff'), device('28-000005e2fdc3'), device('10-000802b4a1c4')] }]), false, 'new');
  assert.equal(sameListing(before, [{ source: w1, devices: [device('28-0316a2792dff'), device('28-000005e2fdc3', 'w1_bus_master2')] }]), false, 'moved bus');
  assert.equal(sameListing(before, [{ source: w1, devices: [device('28-0316a2792dff'), device('28-000005e2fdc3', 'w1_bus_master1', true)] }]), false, 'parasite');
  assert.equal(sameListing(before, [{ source: owfs, devices: before[0]?.devices ?? [] }]), false, 'another source');
  assert.equal(sameListing(before, [...before, { source: owfs, devices: [] }]), false, 'a source added');
});
