import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errText } from '../system/err-text.js';
import { decodeLines, doneShape, messageShape, type QueuedMessage } from './record.js';

/**
 * Reading back what an earlier run left in the outbox directory: the `done` marks and
 * every segment file, oldest first. Damaged records are skipped and reported per file
 * (see record.ts), never thrown; files with nothing left to deliver are deleted.
 */

/** A segment file: `<first seq, 16 digits>.queue`. */
export interface Segment {
  readonly first: number;
  readonly file: string;
  lastSeq: number;
  bytes: number;
}

export interface SegmentDamage {
  readonly file: string;
  readonly recovered: number;
  readonly corrupt: number;
  readonly tornBytes: number;
  readonly skippedBytes: number;
}

export interface Recovery {
  /** Every message with seq ≤ this was delivered (or given up) by an earlier run. */
  readonly doneThrough: number;
  /** The highest seq found (or marked done). */
  readonly lastSeq: number;
  readonly segments: Segment[];
  readonly damaged: SegmentDamage[];
  readonly unreadable: { readonly file: string; readonly err: string }[];
}

const NAME = /^\d{16}\.queue$/;

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.queue`;
}

/** Hands every message not yet done to `each`, oldest first. */
export function recoverQueue(dir: string, each: (message: QueuedMessage, bytes: number) => void): Recovery {
  const marks = decodeLines(readOr(join(dir, 'done')), doneShape).records;
  const doneThrough = marks.reduce((a, b) => Math.max(a, b), 0);
  const segments: Segment[] = [];
  const damaged: SegmentDamage[] = [];
  const unreadable: { file: string; err: string }[] = [];
  let lastSeq = doneThrough;
  for (const name of readdirSync(dir).filter((n) => NAME.test(n)).sort()) {
    const file = join(dir, name);
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      unreadable.push({ file, err: errText(err) });
      continue;
    }
    const decoded = decodeLines(data, messageShape);
    const { corrupt, tornBytes, skippedBytes } = decoded;
    if (skippedBytes > 0) damaged.push({ file, recovered: decoded.records.length, corrupt, tornBytes, skippedBytes });
    const seg: Segment = { first: Number(name.slice(0, 16)), file, lastSeq: 0, bytes: data.length };
    decoded.records.forEach((m, i) => {
      // Older than the done mark, or out of order (only a damaged file could do that): not queued.
      if (m.seq <= lastSeq) return;
      lastSeq = seg.lastSeq = m.seq;
      each(m, decoded.sizes[i] ?? 0);
    });
    if (seg.lastSeq > 0) segments.push(seg);
    else unlinkQuiet(file);
  }
  if (segments.length === 0) unlinkQuiet(join(dir, 'done'));
  return { doneThrough, lastSeq, segments, damaged, unreadable };
}

function readOr(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    return Buffer.alloc(0);
  }
}

export function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** fsync a directory, so a new entry in it survives a power cut; best effort. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the file itself is still written
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
