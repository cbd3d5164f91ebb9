import { crc32 } from 'node:zlib';

/**
 * The outbox's on-disk format, pure (no I/O). One record per line:
 *
 *   <crc32 of the JSON, 8 hex digits> <JSON>\n
 *
 * A line is whole only when it ends in `\n` and its CRC matches, so a write torn by a
 * power cut (a short last line) or flipped bits on the SD card are detected, skipped and
 * counted; every other line is still recovered. JSON keeps the files readable with `cat`
 * and escapes every newline in a payload. CRC-32 is zlib's (IEEE 802.3 polynomial).
 */

/** One queued MQTT message. `seq` orders the queue across restarts. */
export interface QueuedMessage {
  readonly seq: number;
  /** When it was queued (ms since the epoch), for logs: how old the oldest queued reading is. */
  readonly at: number;
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** `queue: latest`: a newer message on the same topic replaces this one while it waits. */
  readonly latest: boolean;
}

/** What decoding a file gave: the whole records, and what was skipped. */
export interface Decoded<T> {
  readonly records: T[];
  /** The size in bytes of each record's line, in the same order. */
  readonly sizes: number[];
  /** Lines that ended in `\n` but failed the CRC or the shape check. */
  readonly corrupt: number;
  /** Bytes after the last `\n`: a write cut short. */
  readonly tornBytes: number;
  /** Bytes of every skipped line, the torn tail included. */
  readonly skippedBytes: number;
}

const NEWLINE = 0x0a;

export function encodeLine(value: unknown): Buffer {
  return encodeJsonLine(JSON.stringify(value));
}

/** `<crc> <json>\n` for JSON text already made. */
export function encodeJsonLine(json: string): Buffer {
  const line = Buffer.allocUnsafe(lineSize(json));
  const n = line.write(json, 9, 'utf8');
  line.write(`${crc32(line.subarray(9, 9 + n)).toString(16).padStart(8, '0')} `, 0, 'latin1');
  line[9 + n] = NEWLINE;
  return line;
}

/** The byte length of the line encodeJsonLine makes of `json`. */
export function lineSize(json: string): number {
  return Buffer.byteLength(json, 'utf8') + 10;
}

/** The JSON a message's record holds. */
export function messageJson(m: QueuedMessage): string {
  return JSON.stringify({ s: m.seq, a: m.at, t: m.topic, p: m.payload, q: m.qos, r: m.retain ? 1 : 0, l: m.latest ? 1 : 0 });
}

/** Characters that JSON.stringify escapes, and anything beyond ASCII (more than one UTF-8 byte). */
const NOT_PLAIN = /["\\\u0000-\u001f\u007f-\uffff]/;

/**
 * lineSize(messageJson(m)) without building the JSON: every message queued counts its
 * size against `max_bytes`, and while the broker acknowledges none is ever written.
 * Topics and payloads of plain ASCII (all of w1mqtt's own) are counted; others are encoded.
 */
export function messageLineSize(m: QueuedMessage): number {
  if (NOT_PLAIN.test(m.topic) || NOT_PLAIN.test(m.payload)) return lineSize(messageJson(m));
  // {"s":N,"a":N,"t":"…","p":"…","q":N,"r":N,"l":N}: 36 bytes of keys and punctuation, 3 one-digit values, 4 quotes.
  return 36 + 3 + 4 + String(m.seq).length + String(m.at).length + m.topic.length + m.payload.length + 10;
}

export function encodeMessage(m: QueuedMessage): Buffer {
  return encodeJsonLine(messageJson(m));
}

/** "Every message with seq ≤ `seq` is delivered or given up": written as delivery moves on. */
export function encodeDone(seq: number): Buffer {
  return encodeLine({ d: seq });
}

/** Split a file into lines and keep those whose CRC and shape check out. */
export function decodeLines<T>(data: Uint8Array, shape: (value: unknown) => T | undefined): Decoded<T> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const records: T[] = [];
  const sizes: number[] = [];
  let corrupt = 0;
  let skippedBytes = 0;
  let start = 0;
  for (let end = buf.indexOf(NEWLINE, start); end !== -1; start = end + 1, end = buf.indexOf(NEWLINE, start)) {
    const value = checkLine(buf.subarray(start, end));
    const record = value === undefined ? undefined : shape(value);
    if (record === undefined) {
      corrupt++;
      skippedBytes += end + 1 - start;
    } else {
      records.push(record);
      sizes.push(end + 1 - start);
    }
  }
  const tornBytes = buf.length - start;
  return { records, sizes, corrupt, tornBytes, skippedBytes: skippedBytes + tornBytes };
}

function checkLine(line: Buffer): unknown {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const crc = Number.parseInt(line.subarray(0, 8).toString('latin1'), 16);
  const json = line.subarray(9);
  if (!/^[0-9a-f]{8}$/.test(line.subarray(0, 8).toString('latin1')) || crc32(json) !== crc) return undefined;
  try {
    return JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function messageShape(value: unknown): QueuedMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { s, a, t, p, q, r, l } = v;
  if (!isSeq(s) || typeof a !== 'number' || typeof t !== 'string' || t === '' || typeof p !== 'string') return undefined;
  if ((q !== 0 && q !== 1 && q !== 2) || (r !== 0 && r !== 1) || (l !== 0 && l !== 1)) return undefined;
  return { seq: s, at: a, topic: t, payload: p, qos: q, retain: r === 1, latest: l === 1 };
}

export function doneShape(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const d = (value as Record<string, unknown>)['d'];
  return isSeq(d) || d === 0 ? d : undefined;
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
