import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { SourceSet } from '../../src/sources/source-set.js';
import type { ReadResult } from '../../src/readings/read-result.js';
import type { Device } from '../../src/readings/device.js';
import type { Source } from '../../src/sources/source.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { memoryLog } from '../helpers/memory-log.js';

/** A source whose listing fails while `down` is set, as a bus master that went away. */
class FlakySource implements Source {
  down = false;
  closed = false;
  readonly name: string;
  readonly devices: Device[];
  constructor(name: string, devices: Device[]) {
    this.name = name;
    this.devices = devices;
  }
  async list(): Promise<Device[]> {
    if (this.down) throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
    return this.devices;
  }
  async read(): Promise<ReadResult> {
    return { ok: true, milli: 20_000 };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function device(name: string): Device {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { id, name, bus: 'w1_bus_master1', chip: 'DS18B20' };
}

test('a source that cannot list keeps its last devices, is logged once when it fails and once when it is back', async () => {
  const { log, find } = memoryLog();
  const clock = new FakeClock();
  const a = new FlakySource('a', [device('28-000000000001')]);
  const b = new FlakySource('b', [device('28-000000000002')]);
  const set = new SourceSet([a, b], log, clock);

  assert.deepEqual((await set.list()).map((f) => [f.source.name, f.devices.map((d) => d.name)]), [['a', ['28-000000000001']], ['b', ['28-000000000002']]]);
  a.down = true;
  for (let i = 0; i < 3; i++) {
    await clock.advance(10_000);
    const found = await set.list();
    assert.deepEqual(found.find((f) => f.source === a)?.devices.map((d) => d.name), ['28-000000000001'], 'the last devices, not none');
  }
  assert.equal(set.failing(a), true);
  assert.equal(set.failing(b), false);
  const failed = find('cannot list devices of source (bus master gone?)');
  assert.equal(failed.length, 1, 'once, not once per listing');
  assert.equal(failed[0]?.['source'], 'a');

  a.down = false;
  await set.list();
  assert.equal(set.failing(a), false);
  const back = find('source is back');
  assert.equal(back.length, 1);
  assert.equal(back[0]?.['failures'], 3);
  assert.equal(back[0]?.['durationMs'], 20_000);

  await set.close();
  assert.ok(a.closed && b.closed);
});
