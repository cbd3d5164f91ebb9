import type { QueuedMessage } from './outbox-record.js';
import type { StoredMessage } from './outbox-store.js';

/**
 * The outbox's order and accounting, without I/O policy. Messages are numbered (`seq`)
 * and taken in that order from a cursor. The oldest waiting ones may be on disk (read
 * ahead a few hundred at a time), the newest in memory until written; everything below
 * the cursor is in flight, refused (sent again first) or done. `count`/`bytes` cover
 * every message not done yet, a superseded `latest` one included: it still takes room
 * on disk until the cursor passes it.
 */

/** A message still in memory, with its encoded line ready for the disk. */
export type MemEntry = StoredMessage & { readonly line: Buffer };

/** The part of the disk store the queue reads from. */
export interface DiskReader {
  /** Highest seq on disk; every seq in memory is above it. */
  readonly lastSeq: number;
  readFrom(seq: number, max: number): StoredMessage[];
}

const READ_AHEAD = 512;

export class OutboxQueue {
  readonly inflight = new Map<number, StoredMessage>();
  count = 0;
  bytes = 0;
  #disk: DiskReader | undefined;
  #mem: MemEntry[] = [];
  #ahead: StoredMessage[] = [];
  #cursor = 1;
  #retry: StoredMessage[] = [];
  /** Newest not-done `latest` message per topic. */
  readonly #latest = new Map<string, number>();

  /** Read from `disk` from now on; what an earlier run finished ends at `doneThrough`. */
  attach(disk: DiskReader, doneThrough: number): void {
    this.#disk = disk;
    this.#cursor = doneThrough + 1;
  }

  /** Count a message that is waiting somewhere (on disk from an earlier run, or just pushed). */
  account(m: QueuedMessage, size: number): void {
    this.count++;
    this.bytes += size;
    if (m.latest) this.#latest.set(m.topic, m.seq);
  }

  push(entry: MemEntry): void {
    this.#mem.push(entry);
    this.account(entry, entry.size);
  }

  /** Messages not on disk yet, oldest first. */
  get memory(): readonly MemEntry[] {
    return this.#mem;
  }

  /** The first `n` memory messages were written to disk. */
  written(n: number): void {
    this.#mem = this.#mem.slice(n);
  }

  /** The oldest message not yet sent: a refused one first, then the one at the cursor. */
  takeNext(): StoredMessage | undefined {
    const retried = this.#retry.shift();
    if (retried) return retried;
    const disk = this.#disk;
    if (disk && this.#cursor <= disk.lastSeq) {
      while (this.#ahead[0] && this.#ahead[0].seq < this.#cursor) this.#ahead.shift();
      if (this.#ahead.length === 0) this.#ahead = disk.readFrom(this.#cursor, READ_AHEAD);
      const next = this.#ahead.shift();
      if (next) {
        this.#cursor = next.seq + 1;
        return next;
      }
      this.#cursor = disk.lastSeq + 1;
    }
    const next = this.#mem[lowerBound(this.#mem, this.#cursor)];
    if (next) this.#cursor = next.seq + 1;
    return next;
  }

  /** A `latest` message with a newer one waiting on its topic: skip it. */
  superseded(m: QueuedMessage): boolean {
    return m.latest && this.#latest.get(m.topic) !== m.seq;
  }

  /** The client refused a sent message without keeping it: it goes again before anything newer. */
  refused(m: StoredMessage): void {
    this.#retry.push(m);
    this.#retry.sort((a, b) => a.seq - b.seq);
  }

  /** Done with `m` (delivered, dropped or superseded). Returns whether it was on disk. */
  settle(m: StoredMessage): 'disk' | 'memory' {
    this.count--;
    this.bytes -= m.size;
    if (this.#latest.get(m.topic) === m.seq) this.#latest.delete(m.topic);
    const i = lowerBound(this.#mem, m.seq);
    if (this.#mem[i]?.seq !== m.seq) return 'disk';
    this.#mem.splice(i, 1);
    return 'memory';
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
    this.#latest.clear();
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
