import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';
import type { OutboxEpisodes } from './episodes.js';
import type { OutboxQueue } from './queue.js';
import { encodeMessage } from './record.js';
import { SegmentStore } from './store.js';

/**
 * When the outbox touches the disk: spilling (writing waiting messages, in one write per
 * call), delivery marks ("done up to seq N", at least every MARK_EVERY acknowledgements
 * of messages on disk, and on every housekeeping tick) and fsync (every `syncEveryMs`).
 * Writes go to the kernel's page cache at once, so a SIGKILL loses nothing written;
 * fsync bounds what a power cut can lose.
 */

export interface OutboxDiskOptions {
  readonly dir: string;
  readonly queue: OutboxQueue;
  readonly episodes: OutboxEpisodes;
  readonly log: Logger;
  readonly now: () => number;
  /** A message unacknowledged this long is written. */
  readonly spillAfterMs: number;
  readonly syncEveryMs: number;
}

/** Write a delivered mark at least every this many acknowledgements (bounds duplicates after a crash). */
export const MARK_EVERY = 100;
const RETRY_WRITE_MS = 1_000;

export class OutboxDisk {
  readonly #o: OutboxDiskOptions;
  readonly store: SegmentStore;
  #marked: number;
  #doneSinceMark = 0;
  #lastSync = 0;
  /** Writes failing (disk full, read-only, gone): since when and how often, for the line that says it works again. */
  #writeFailing: { since: number; count: number; lastTry: number } | undefined;

  constructor(options: OutboxDiskOptions, store: SegmentStore, marked: number) {
    this.#o = options;
    this.store = store;
    this.#marked = marked;
  }

  get writeFailing(): boolean {
    return this.#writeFailing !== undefined;
  }

  /** A message on disk is done: every MARK_EVERY of them, a mark. */
  settled(): void {
    if (++this.#doneSinceMark >= MARK_EVERY) this.mark();
  }

  /** Write waiting messages to disk, in one write: all of them, or those unacknowledged for spillAfterMs. */
  spill(all: boolean, connected: boolean): void {
    const { queue, now } = this.#o;
    const store = this.store;
    const mem = queue.memory;
    if (mem.length === 0) return;
    const before = now() - this.#o.spillAfterMs;
    const young = all ? -1 : mem.findIndex((e) => e.at > before);
    const n = young === -1 ? mem.length : young;
    if (n === 0) return;
    // A failing disk is tried again once a second, not with every reading queued.
    const failing = this.#writeFailing;
    if (failing && now() - failing.lastTry < RETRY_WRITE_MS) return;
    try {
      // Encoded only now: with the broker acknowledging, a message never is.
      store.append(mem.slice(0, n).map((m) => ({ seq: m.seq, line: encodeMessage(m) })));
    } catch (err) {
      if (!this.#writeFailing) this.#o.log.warn({ dir: store.dir, err: errText(err) }, 'cannot write the outbox: keeping readings in memory until it works again');
      this.#writeFailing ??= { since: now(), count: 0, lastTry: 0 };
      this.#writeFailing.count++;
      this.#writeFailing.lastTry = now();
      return;
    }
    if (failing) this.#o.log.info({ dir: store.dir, failedWrites: failing.count, durationMs: now() - failing.since }, 'outbox writable again');
    this.#writeFailing = undefined;
    queue.written(n);
    this.#o.episodes.written(n, store.dir, connected);
  }

  /** Write "done up to N" and delete the files that are fully delivered. */
  mark(): void {
    this.#doneSinceMark = 0;
    const store = this.store;
    // Capped at what is on disk: acknowledgements of messages never written cost no write.
    const done = Math.min(this.#o.queue.doneThrough(), store.lastSeq);
    if (done <= this.#marked) return;
    try {
      // Everything on disk delivered: deleting the files says it without a mark.
      if (done < store.lastSeq) store.markDone(done);
      this.#marked = done;
      store.compact(done);
    } catch (err) {
      this.#o.log.debug({ err: errText(err) }, 'cannot write the outbox delivery mark');
    }
  }

  /** Housekeeping: report files that could not be read back, fsync when due. */
  tick(): void {
    for (const lost of this.store.takeLost()) this.#o.log.error({ ...lost }, 'cannot read an outbox file back: its readings are lost');
    const now = this.#o.now();
    if (now - this.#lastSync < this.#o.syncEveryMs) return;
    this.#lastSync = now;
    try {
      this.store.sync();
    } catch (err) {
      this.#o.log.debug({ err: errText(err) }, 'outbox fsync failed');
    }
  }

  close(): void {
    try {
      this.store.close();
    } catch (err) {
      this.#o.log.warn({ err: errText(err) }, 'closing the outbox failed');
    }
  }
}

/**
 * Open `dir` and account for what an earlier run left in it. Undefined (with an error
 * logged) when it cannot be used: the outbox then queues in memory only.
 */
export function openOutboxDir(
  o: OutboxDiskOptions,
  memoryMax: number,
): { disk: OutboxDisk; lastSeq: number; message: string; report: Record<string, unknown> } | undefined {
  const { dir, queue, log } = o;
  const store = new SegmentStore({ dir, log });
  let oldest: number | undefined;
  try {
    const report = store.open((m, size) => {
      oldest ??= m.at;
      queue.account(m, size);
    });
    if (report.tookOverFrom !== undefined) log.info({ dir, pid: report.tookOverFrom }, 'outbox was left locked by an agent that did not stop cleanly');
    for (const d of report.damaged) log.warn({ ...d }, 'outbox file damaged (power cut mid-write?): kept every whole record, skipped the rest');
    for (const u of report.unreadable) log.error({ ...u }, 'cannot read an outbox file: its readings are lost');
    queue.attach(store, report.doneThrough);
    const disk = new OutboxDisk(o, store, report.doneThrough);
    const queued = { dir, queued: queue.count, bytes: queue.bytes };
    if (queue.count === 0) return { disk, lastSeq: store.lastSeq, message: 'outbox ready', report: queued };
    o.episodes.resumed();
    const message = 'outbox holds readings from an earlier run: delivering them first';
    return { disk, lastSeq: store.lastSeq, message, report: { ...queued, oldest: new Date(oldest ?? 0).toISOString() } };
  } catch (err) {
    store.close();
    queue.clear();
    log.error({ dir, err: errText(err), maxMessages: memoryMax }, 'cannot use the outbox directory: queueing in memory only (lost on restart)');
    return undefined;
  }
}
