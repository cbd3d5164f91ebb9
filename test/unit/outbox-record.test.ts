import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLines, doneShape, encodeDone, encodeMessage, messageLineSize, messageShape, type QueuedMessage } from '../../src/outbox/record.js';

const m = (seq: number, payload = `{"temperature":21.5,"time":"2026-01-01T00:00:0${seq % 10}.000Z"}`): QueuedMessage => ({
  seq,
  at: 1_767_225_600_000 + seq,
  topic: 'home/kitchen/temperature',
  payload,
  qos: 1,
  retain: true,
  latest: seq % 2 === 0,
});

test('messages round-trip, newlines and non-ASCII in a payload included', () => {
  const msgs = [m(1), m(2, 'line one\nline two'), m(3, '21,5 °C ✓')];
  const data = Buffer.concat(msgs.map(encodeMessage));
  assert.equal(data.toString('utf8').split('\n').length, 4, 'one line per record: the payload newline is escaped');
  const out = decodeLines(data, messageShape);
  assert.deepEqual(out.records, msgs);
  assert.deepEqual(out.sizes, msgs.map((x) => encodeMessage(x).length));
  assert.deepEqual([out.corrupt, out.tornBytes, out.skippedBytes], [0, 0, 0]);
});

test('a torn last line is skipped and measured, the whole ones before it kept', () => {
  const whole = Buffer.concat([m(1), m(2), m(3)].map(encodeMessage));
  for (const cut of [1, 9, 20, encodeMessage(m(3)).length - 1]) {
    const out = decodeLines(whole.subarray(0, whole.length - cut), messageShape);
    assert.deepEqual(out.records.map((r) => r.seq), [1, 2], `cut ${cut}`);
    assert.equal(out.corrupt, 0);
    assert.equal(out.tornBytes, encodeMessage(m(3)).length - cut);
  }
});

test('a flipped bit fails the CRC: that record is skipped, the ones after it are recovered', () => {
  const lines = [m(1), m(2), m(3)].map(encodeMessage);
  const bad = Buffer.from(lines[1] ?? Buffer.alloc(0));
  bad[30] = (bad[30] ?? 0) ^ 0x04;
  const out = decodeLines(Buffer.concat([lines[0] ?? Buffer.alloc(0), bad, lines[2] ?? Buffer.alloc(0)]), messageShape);
  assert.deepEqual(out.records.map((r) => r.seq), [1, 3]);
  assert.equal(out.corrupt, 1);
  assert.equal(out.skippedBytes, bad.length);
});

test('garbage, a wrong shape and an empty file decode to nothing, without throwing', () => {
  const garbage = Buffer.from('\u0000\u0000\u0000 power cut \n\nzzzzzzzz {"s":1}\n');
  const out = decodeLines(garbage, messageShape);
  assert.deepEqual(out.records, []);
  assert.equal(out.corrupt, 3);
  const wrongShape = Buffer.concat([encodeDone(5), encodeMessage(m(1))]);
  assert.deepEqual(decodeLines(wrongShape, messageShape).records.map((r) => r.seq), [1]);
  assert.deepEqual(decodeLines(wrongShape, doneShape).records, [5]);
  assert.deepEqual(decodeLines(Buffer.alloc(0), messageShape), { records: [], sizes: [], corrupt: 0, tornBytes: 0, skippedBytes: 0 });
});

test('a week of readings from 20 sensors at 30 s fits the default limits', async () => {
  const { configSchema } = await import('../../src/config/schema.js');
  const { outbox } = configSchema.parse({});
  const readings = 20 * 2 * 60 * 24 * 7;
  const payload = JSON.stringify({ temperature: -10.13, unit: 'C', time: '2026-01-01T00:00:00.000Z', sensor: '28-0316a2792dff', name: 'Living room' });
  const size = encodeMessage({ seq: readings, at: Date.now(), topic: 'home/1wire/28-0316a2792dff/temperature', payload, qos: 1, retain: true, latest: false }).length;
  assert.ok(readings <= outbox.max_messages, `${readings} > ${outbox.max_messages}`);
  assert.ok(readings * size <= outbox.max_bytes, `${readings} × ${size} B > ${outbox.max_bytes}`);
});

test('messageLineSize counts the bytes of the line that would be written, without writing it', () => {
  const topics = ['home/kitchen/temperature', 'home/1wire/28-0316a2792dff/temperature/availability', 'a', 'cuisine/température', 'say "hi"\\', 'tab\there', '\u007f', '😀/x'];
  const payloads = ['21.44', '', 'online', '{"temperature":21.44,"unit":"C","time":"2026-11-26T13:00:00.000Z"}', 'line\nbreak', 'ünïcode'];
  for (const topic of topics) {
    for (const payload of payloads) {
      for (const [seq, at] of [[1, 0], [99_999_999, 1_795_000_000_000], [4_503_599_627_370_496, 1]] as const) {
        for (const flags of [{ qos: 0, retain: false, latest: false }, { qos: 1, retain: true, latest: true }] as const) {
          const m: QueuedMessage = { topic, payload, seq, at, ...flags };
          assert.equal(messageLineSize(m), encodeMessage(m).length, JSON.stringify(m));
        }
      }
    }
  }
});
