import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { FrameMeter } from '../../src/mqtt/frame-meter.js';

function packets(): Buffer[] {
  return [
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'x', clean: true, keepalive: 30 }),
    mqttPacket.generate({ cmd: 'publish', topic: 'home/kitchen/temperature', payload: Buffer.from('21.44'), qos: 0, retain: true, dup: false }),
    mqttPacket.generate({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(300, 1), qos: 1, messageId: 7, retain: false, dup: false }),
    mqttPacket.generate({ cmd: 'pingreq' }),
  ];
}

test('counts each packet with its type and whole size, however the bytes are split', { timeout: 5000 }, () => {
  const all = Buffer.concat(packets());
  for (const step of [1, 2, 3, 7, all.length]) {
    const seen: [number, number][] = [];
    const meter = new FrameMeter({ maxPacketSize: 1024, onPacket: (type, size) => seen.push([type, size]) });
    for (let i = 0; i < all.length; i += step) assert.equal(meter.push(all.subarray(i, i + step)), undefined);
    assert.deepEqual(seen, packets().map((p) => [p[0]! >> 4, p.length]), `step ${step}`);
  }
});

test('an oversized packet is refused from its header, before its body arrives', { timeout: 5000 }, () => {
  const meter = new FrameMeter({ maxPacketSize: 200 });
  const big = packets()[2]!;
  assert.deepEqual(meter.push(big.subarray(0, 3)), { kind: 'oversized', size: big.length, max: 200 });
  // Sticky: the connection is gone, whatever follows.
  assert.equal(meter.push(Buffer.from([0xc0, 0x00]))?.kind, 'oversized');
});

test('a Remaining Length of more than four bytes, and packet type 0, are malformed', { timeout: 5000 }, () => {
  assert.deepEqual(new FrameMeter({ maxPacketSize: Infinity }).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), {
    kind: 'malformed',
    reason: 'remaining length longer than 4 bytes',
  });
  assert.equal(new FrameMeter({ maxPacketSize: Infinity }).push(Buffer.from([0x00, 0x00]))?.kind, 'malformed');
  // The largest legal length (268 435 455) is not malformed, only oversized here.
  assert.equal(new FrameMeter({ maxPacketSize: 1000 }).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))?.kind, 'oversized');
});
