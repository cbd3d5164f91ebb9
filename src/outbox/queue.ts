import type { QueuedMessage } from './record.js';
import type { StoredMessage } from './store.js';

/**
 * The outbox's order and accounting, without I/O policy. Messages are numbered (`seq`)
 * and taken in that order from a cursor. The oldest waiting ones may be on disk (read
 * ahead a few hundred at a time), the newest in memory until written; everything below
 * the cursor is in flight, refused (sent again first) or done. `count`/`bytes` cover
 * every message not done yet, a superseded `latest` one included: it still takes room
 * on disk until the cursor passes it.
 *
 * The newest `latest` message of each topic (a plain reading, an availability state)
 * jumps the queue: a week of `all` backlog must not keep the current value waiting.
 * Older `latest` messages of that topic are superseded, so the order within a topic holds.
 */

/** The part of the disk store the queue reads from. */
export interface DiskReader {
  /** Highest seq on disk; every seq in memory is above it. */
  readonly lastSeq: number;
  /** Messages from `seq` on, in order; undefined while the file holding them cannot be read (try again later). */
  readFrom(seq: number, max: number): StoredMessage[] | undefined;
}

const READ_AHEAD = 512;

export class OutboxQueue {
  readonly inflight = new Map<number, StoredMessage>();
  count = 0;
  bytes = 0;
  #disk: DiskReader | undefined;
  #mem: StoredMessage[] = [];
  #ahead: StoredMessage[] = [];
  #cursor = 1;
  #retry: StoredMessage[] = [];
  /** Highest seq of a `latest` message per topic: every older one of the topic is superseded. */
  readonly #newest = new Map<string, number>();
  /** The newest `latest` message per topic, not taken yet: sent before the cursor gets to it. */
  readonly #fresh = new Map<string, StoredMessage>();
  /** Seqs above the cursor already taken out of turn (from #fresh): skipped when the cursor gets there. */
  readonly #early = new Set<number>();

  /** Read from `disk` from now on; what an earlier run finished ends at `doneThrough`. */
  attach(disk: DiskReader, doneThrough: number): void {
    this.#disk = disk;
    this.#cursor = doneThrough + 1;
  }

  /** Count a message that is waiting somewhere (on disk from an earlier run, or just pushed). */
  account(m: QueuedMessage, size: number): void {
    this.count++;
    this.bytes += size;
    if (!m.latest) return;
    this.#newest.set(m.topic, m.seq);
    this.#fresh.set(m.topic, { ...m, size });
  }

  push(entry: StoredMessage): void {
    this.#mem.push(entry);
    this.account(entry, entry.size);
  }

  /** Messages not on disk yet, oldest first. */
  get memory(): readonly StoredMessage[] {
    return this.#mem;
  }

  /** The first `n` memory messages were written to disk. */
  written(n: number): void {
    this.#mem = this.#mem.slice(n);
  }

  /** What to send next: a refused one first, then the newest `latest` per topic, then the one at the cursor. */
  takeNext(): StoredMessage | undefined {
    const retried = this.#retry.shift();
    if (retried) return retried;
    let fresh: StoredMessage | undefined;
    for (const m of this.#fresh.values()) if (!fresh || m.seq < fresh.seq) fresh = m;
    if (fresh) {
      this.#fresh.delete(fresh.topic);
      this.#early.add(fresh.seq);
      return fresh;
    }
    return this.takeOldest();
  }

  /** The oldest message not taken yet, in seq order (what a full queue drops first). */
  takeOldest(): StoredMessage | undefined {
    for (;;) {
      const next = this.#atCursor();
      if (!next) return undefined;
      this.#cursor = next.seq + 1;
      if (this.#early.delete(next.seq)) continue;
      if (this.#fresh.get(next.topic)?.seq === next.seq) this.#fresh.delete(next.topic);
      return next;
    }
  }

  #atCursor(): StoredMessage | undefined {
    const disk = this.#disk;
    if (disk && this.#cursor <= disk.lastSeq) {
      while (this.#ahead[0] && this.#ahead[0].seq < this.#cursor) this.#ahead.shift();
      if (this.#ahead.length === 0) {
        const read = disk.readFrom(this.#cursor, READ_AHEAD);
        if (!read) return undefined; // unreadable for now: wait rather than skip a file
        this.#ahead = read;
      }
      const next = this.#ahead[0];
      if (next) return next;
      this.#cursor = disk.lastSeq + 1;
    }
    return this.#mem[lowerBound(this.#mem, this.#cursor)];
  }

  /** A `latest` message with a newer one on its topic: skip it. */
  superseded(m: QueuedMessage): boolean {
    return m.latest && (this.#newest.get(m.topic) ?? m.seq) > m.seq;
  }

  /** The client refused a sent message without keeping it: it goes again before anything newer. */
  refused(m: StoredMessage): void {
    this.#retry.push(m);
    this.#retry.sort((a, b) => a.seq - b.seq);
  }

  /** Everything in flight goes back to be sent again, in order, before anything else (a new connection). */
  requeueInflight(): void {
    for (const m of this.inflight.values()) this.#retry.push(m);
    this.inflight.clear();
    this.#retry.sort((a, b) => a.seq - b.seq);
  }

  /** Done with `m` (delivered, rejected, dropped or superseded). Returns whether it was on disk. */
  settle(m: StoredMessage): 'disk' | 'memory' {
    this.count--;
    this.bytes -= m.size;
    if (this.#fresh.get(m.topic)?.seq === m.seq) this.#fresh.delete(m.topic);
    const i = lowerBound(this.#mem, m.seq);
    if (this.#mem[i]?.seq !== m.seq) return 'disk'; // sent early, the cursor still skips it on disk
    this.#mem.splice(i, 1);
    this.#early.delete(m.seq); // gone from memory: the cursor will not meet it
    return 'memory';
  }

  /**
   * Memory messages beyond `max`, oldest first, that are not taken yet (for a disk that
   * cannot be written: they would pile up in RAM). The caller settles them as dropped.
   */
  memoryBeyond(max: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const m of this.#mem) {
      if (this.#mem.length - out.length <= max) break;
      if (m.seq < this.#cursor || this.#early.has(m.seq)) continue; // in flight or waiting for a resend
      out.push(m);
    }
    return out;
  }

  /** Every message with seq up to this one is done. */
  doneThrough(): number {
    let low = this.#cursor;
    for (const seq of this.inflight.keys()) low = Math.min(low, seq);
    if (this.#retry[0]) low = Math.min(low, this.#retry[0].seq);
    return low - 1;
  }

  /** Forget everything (a disk that could not be opened after all). */
  clear(): void {
    this.count = this.bytes = 0;
    this.#newest.clear();
    this.#fresh.clear();
  }
}

/** Index of the first entry with seq ≥ `seq` (entries are in seq order). */
function lowerBound(entries: readonly { seq: number }[], seq: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((entries[mid]?.seq ?? Infinity) < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
