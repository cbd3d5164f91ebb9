import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';
import { acquireLock, releaseLock } from '../system/lock-file.js';
import { decodeLines, encodeDone, messageShape, type QueuedMessage } from './record.js';
import { recoverQueue, segmentName, syncDir, unlinkQuiet, type Segment, type SegmentDamage } from './recover.js';

/**
 * The outbox's files in `<state_dir>/outbox/`: append-only segment files of records
 * (`<first seq>.queue`, see record.ts), a `done` file of "delivered up to seq N"
 * marks, and a `lock`. A segment is deleted once every message in it is done; files
 * from an earlier run are only read, never appended to, so a torn last line stays
 * harmless. Writes are synchronous: they land in the kernel's page cache at once, so a
 * crashed or SIGKILLed agent loses nothing; sync() (fsync) bounds a power cut's loss.
 */

/** A message as read back, with the size of its line (what it counts against `max_bytes`). */
export type StoredMessage = QueuedMessage & { readonly size: number };
export type { SegmentDamage };

export interface OpenReport {
  /** Every message with seq ≤ this was delivered (or given up) by an earlier run. */
  readonly doneThrough: number;
  /** The PID in a stale lock: that agent was killed or lost power. */
  readonly tookOverFrom: number | undefined;
  readonly damaged: SegmentDamage[];
  readonly unreadable: { readonly file: string; readonly err: string }[];
}

export class OutboxLockedError extends Error {
  readonly holder: number;
  constructor(dir: string, holder: number) {
    super(`another w1mqtt (pid ${holder}) uses ${dir}`);
    this.holder = holder;
  }
}

const SEGMENT_BYTES = 1024 * 1024;
const DONE_REWRITE_BYTES = 64 * 1024;

export class SegmentStore {
  readonly dir: string;
  readonly #segmentBytes: number;
  #segments: Segment[] = [];
  #open: { seg: Segment; fd: number } | undefined;
  #doneFd: number | undefined;
  #doneBytes = 0;
  #dirty = false;
  #cache: { seg: Segment; bytes: number; records: StoredMessage[] } | undefined;
  #lost: { file: string; err: string }[] = [];
  #locked = false;
  #lastSeq = 0;
  readonly #log: Logger | undefined;
  /** A segment that exists but cannot be read just now (EMFILE, EIO...): since when, how often. */
  #readFailing: { file: string; since: number; count: number } | undefined;

  constructor(options: { dir: string; segmentBytes?: number; log?: Logger }) {
    this.dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
    this.#log = options.log;
  }

  /** Create the directory, take the lock, and hand every not-yet-delivered message to `each`, oldest first. */
  open(each: (message: QueuedMessage, bytes: number) => void): OpenReport {
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    const lock = acquireLock(join(this.dir, 'lock'));
    if (!lock.ok) throw new OutboxLockedError(this.dir, lock.holder);
    this.#locked = true;
    const found = recoverQueue(this.dir, each);
    this.#segments = found.segments;
    this.#lastSeq = found.lastSeq;
    return { doneThrough: found.doneThrough, damaged: found.damaged, unreadable: found.unreadable, tookOverFrom: lock.tookOver };
  }

  /** The highest seq ever written (or marked done): new messages get higher ones. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * Up to `max` stored messages with seq ≥ `seq`, in order (from one segment at a time).
   * Undefined while the segment holding them exists but cannot be read: nothing after it
   * may go first, so the caller tries again later.
   */
  readFrom(seq: number, max: number): StoredMessage[] | undefined {
    for (const seg of [...this.#segments]) {
      if (seg.lastSeq < seq) continue;
      const records = this.#load(seg);
      if (records === 'retry') return undefined;
      if (!records) continue;
      const out: StoredMessage[] = [];
      for (const m of records) {
        if (m.seq < seq) continue;
        out.push(m);
        if (out.length >= max) break;
      }
      if (out.length > 0) return out;
    }
    return [];
  }

  /** Segments that could not be read back: their messages are lost. Cleared by the call. */
  takeLost(): { file: string; err: string }[] {
    const lost = this.#lost;
    this.#lost = [];
    return lost;
  }

  /** Append whole lines in one write. On failure the file is cut back, so no torn line stays behind. */
  append(records: readonly { readonly seq: number; readonly line: Buffer }[]): void {
    const first = records[0];
    const lastSeq = records.at(-1)?.seq;
    if (!first || lastSeq === undefined) return;
    const open = this.#open ?? this.#create(first.seq);
    const data = Buffer.concat(records.map((r) => r.line));
    try {
      for (let off = 0; off < data.length; ) off += writeSync(open.fd, data, off);
    } catch (err) {
      try {
        ftruncateSync(open.fd, open.seg.bytes);
      } catch {
        // the disk is gone: the segment ends where it ended
      }
      this.#closeOpen();
      if (open.seg.bytes === 0) this.#remove(open.seg);
      throw err;
    }
    open.seg.bytes += data.length;
    open.seg.lastSeq = lastSeq;
    this.#lastSeq = Math.max(this.#lastSeq, lastSeq);
    this.#dirty = true;
    if (open.seg.bytes >= this.#segmentBytes) this.#closeOpen();
  }

  /** Remember that every message up to `seq` is done (appended to `done`, rewritten when it grows). */
  markDone(seq: number): void {
    const line = encodeDone(seq);
    if (this.#doneFd === undefined || this.#doneBytes + line.length > DONE_REWRITE_BYTES) {
      if (this.#doneFd !== undefined) closeSync(this.#doneFd);
      const tmp = join(this.dir, 'done.tmp');
      const fd = openSync(tmp, 'w', 0o640);
      writeSync(fd, line);
      fsyncSync(fd);
      renameSync(tmp, join(this.dir, 'done'));
      this.#doneFd = fd;
      this.#doneBytes = line.length;
      return;
    }
    writeSync(this.#doneFd, line);
    this.#doneBytes += line.length;
    this.#dirty = true;
  }

  /** Delete the segments whose messages are all done; with none left, the done file goes too. */
  compact(doneThrough: number): number {
    const gone = this.#segments.filter((s) => s.lastSeq <= doneThrough);
    for (const seg of gone) this.#remove(seg);
    if (this.#segments.length === 0 && gone.length > 0) {
      if (this.#doneFd !== undefined) closeSync(this.#doneFd);
      this.#doneFd = undefined;
      this.#doneBytes = 0;
      unlinkQuiet(join(this.dir, 'done'));
    }
    return gone.length;
  }

  /** fsync what was written since the last call. */
  sync(): void {
    if (!this.#dirty) return;
    if (this.#open) fsyncSync(this.#open.fd);
    if (this.#doneFd !== undefined) fsyncSync(this.#doneFd);
    this.#dirty = false;
  }

  close(): void {
    try {
      this.sync();
    } finally {
      this.#closeOpen();
      if (this.#doneFd !== undefined) closeSync(this.#doneFd);
      this.#doneFd = undefined;
      if (this.#locked) releaseLock(join(this.dir, 'lock'));
      this.#locked = false;
    }
  }

  #create(firstSeq: number): { seg: Segment; fd: number } {
    const seg: Segment = { first: firstSeq, file: join(this.dir, segmentName(firstSeq)), lastSeq: 0, bytes: 0 };
    const fd = openSync(seg.file, 'a', 0o640);
    this.#segments.push(seg);
    // The new directory entry must survive a power cut too (fsync(2): "also needs an explicit fsync() on the directory").
    syncDir(this.dir);
    this.#open = { seg, fd };
    return this.#open;
  }

  #closeOpen(): void {
    if (!this.#open) return;
    const { fd } = this.#open;
    this.#open = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  #remove(seg: Segment): void {
    if (this.#open?.seg === seg) this.#closeOpen();
    if (this.#cache?.seg === seg) this.#cache = undefined;
    this.#segments = this.#segments.filter((s) => s !== seg);
    unlinkQuiet(seg.file);
  }

  /** The segment's records; undefined when the file is gone (its readings are lost), 'retry' when it failed to read. */
  #load(seg: Segment): StoredMessage[] | 'retry' | undefined {
    if (this.#cache?.seg === seg && this.#cache.bytes === seg.bytes) return this.#cache.records;
    let data: Buffer;
    try {
      data = readFileSync(seg.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return this.#readFailed(seg, err);
      this.#lost.push({ file: seg.file, err: errText(err) });
      this.#remove(seg);
      return undefined;
    }
    const failing = this.#readFailing;
    if (failing) this.#log?.info({ file: failing.file, failedReads: failing.count, durationMs: Date.now() - failing.since }, 'outbox file readable again');
    this.#readFailing = undefined;
    const decoded = decodeLines(data, messageShape);
    const records = decoded.records.map((m, i) => ({ ...m, size: decoded.sizes[i] ?? 0 }));
    this.#cache = { seg, bytes: seg.bytes, records };
    return records;
  }

  /** A passing fault (too many open files, an I/O error): keep the file, say so once, read it again later. */
  #readFailed(seg: Segment, err: unknown): 'retry' {
    if (!this.#readFailing) this.#log?.warn({ file: seg.file, err: errText(err) }, 'cannot read an outbox file: keeping it, trying again');
    this.#readFailing ??= { file: seg.file, since: Date.now(), count: 0 };
    this.#readFailing.count++;
    return 'retry';
  }
}
