import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRequest, FLAG, MAX_PAYLOAD, MSG, parseDirall, ProtocolError, ResponseDecoder } from '../../src/sources/owserver-protocol.js';

const T = { timeout: 10_000 };
const hex = (s: string) => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

// Bytes captured from owserver 3.2p4 with a raw socket probe (platform facts §2.9).
const CAPTURED_READ_REQUEST = Buffer.concat([
  hex('00 00 00 00 | 00 00 00 1d | 00 00 00 02 | 00 00 01 0a | 00 01 00 00 | 00 00 00 00'),
  Buffer.from('/28.FF2D79A21603/temperature\0'),
]);
const CAPTURED_READ_ANSWER = Buffer.concat([
  hex('00 00 00 00 | 00 00 00 0c | 00 00 00 0c | 00 00 01 0a | 00 00 00 0c | 00 00 00 00'),
  Buffer.from('     91.1058'),
]);
const CAPTURED_NOT_FOUND = hex('00 00 00 00 | 00 00 00 00 | ff ff ff ff | 00 00 01 0a | 00 00 00 00 | 00 00 00 00');
const PING = hex('00 00 00 00 | ff ff ff ff | 00 00 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00');

test('encodeRequest: a READ is byte for byte what owshell sends', T, () => {
  assert.deepEqual(encodeRequest({ type: MSG.read, path: '/28.FF2D79A21603/temperature', flags: 0x10a }), CAPTURED_READ_REQUEST);
});

test('encodeRequest: a WRITE carries path, NUL, data, and size = data length', T, () => {
  const out = encodeRequest({ type: MSG.write, path: '/simultaneous/temperature', flags: FLAG.persistent, data: Buffer.from('1') });
  const path = '/simultaneous/temperature\0';
  assert.equal(out.readInt32BE(4), path.length + 1);
  assert.equal(out.readInt32BE(8), 3);
  assert.equal(out.readInt32BE(12), 0x04);
  assert.equal(out.readInt32BE(16), 1);
  assert.equal(out.subarray(24).toString('latin1'), `${path}1`);
});

test('decoder: an answer arriving one byte at a time comes out once, whole', T, () => {
  const decoder = new ResponseDecoder();
  const stream = Buffer.concat([CAPTURED_READ_ANSWER, CAPTURED_NOT_FOUND]);
  const out = [];
  for (const byte of stream) {
    decoder.push(Buffer.from([byte]));
    const r = decoder.next();
    if (r) out.push(r);
  }
  assert.equal(out.length, 2);
  assert.equal(out[0]?.ret, 12);
  assert.equal(out[0]?.flags, 0x10a);
  assert.equal(out[0]?.body.toString('latin1'), '     91.1058');
  assert.equal(out[1]?.ret, -1);
  assert.equal(out[1]?.body.length, 0);
  assert.equal(decoder.buffered, 0);
});

test('decoder: keep-alive pings (payload -1) are skipped and counted, even split across chunks', T, () => {
  const decoder = new ResponseDecoder();
  const stream = Buffer.concat([PING, PING, CAPTURED_READ_ANSWER]);
  decoder.push(stream.subarray(0, 30)); // one ping and a quarter of the next
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.pings, 1);
  decoder.push(stream.subarray(30));
  const r = decoder.next();
  assert.equal(decoder.pings, 2);
  assert.equal(r?.body.toString('latin1'), '     91.1058');
});

test('decoder: a payload length past the protocol maximum is refused from the header alone', T, () => {
  for (const payload of [MAX_PAYLOAD + 1, 0x7fffffff, -2]) {
    const decoder = new ResponseDecoder();
    const header = Buffer.alloc(24);
    header.writeInt32BE(payload, 4);
    decoder.push(header);
    assert.throws(() => decoder.next(), (err: unknown) => err instanceof ProtocolError && err.message.includes(String(payload)));
  }
  const ok = new ResponseDecoder();
  const header = Buffer.alloc(24);
  header.writeInt32BE(MAX_PAYLOAD, 4);
  ok.push(header);
  assert.equal(ok.next(), undefined, 'the maximum itself is allowed: it waits for the body');
});

test('parseDirall: a comma list with a trailing NUL', T, () => {
  assert.deepEqual(parseDirall(Buffer.from('/28.FF2D79A21603,/10.C3A1B4020800,/bus.0\0')), ['/28.FF2D79A21603', '/10.C3A1B4020800', '/bus.0']);
  assert.deepEqual(parseDirall(Buffer.from('\0')), []);
  assert.deepEqual(parseDirall(Buffer.alloc(0)), []);
});
