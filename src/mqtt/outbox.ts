import type { Logger } from '../log.js';
import { OutboxEpisodes, type Outcome } from './outbox-episodes.js';
import { OutboxQueue } from './outbox-queue.js';
import { encodeJsonLine, lineSize, messageJson, type QueuedMessage } from './outbox-record.js';
import type { MemEntry } from './outbox-queue.js';
import type { OutboxLink, OutboxStats, OutgoingMessage } from './outbox-link.js';
import { SegmentStore, type StoredMessage } from './outbox-store.js';

export type { OutboxLink, OutboxStats, OutgoingMessage };

/**
 * Store-and-forward for every message the agent publishes. Messages go out in the order
 * they were queued, at most `window` unacknowledged at a time (so MQTT.js never holds
 * more than that in its own memory store), and only while the link is up.
 *
 * Nothing touches the disk while the broker acknowledges: a message is written (in a
 * batch, see outbox-store.ts) only when the link goes down, or when it has waited
 * `spillAfterMs` for its acknowledgement. Delivery progress is written as "done up to
 * seq N" marks, so a restart resends at most the last few hundred messages (QoS 1
 * allows duplicates, never losses). Beyond `maxMessages`/`maxBytes` the oldest waiting
 * message is dropped; a `latest` message waiting behind a newer one on its topic is
 * skipped (superseded), which is not a loss.
 */

export interface OutboxOptions {
  readonly link: OutboxLink;
  /** `<state_dir>/outbox`; undefined keeps the queue in memory only. */
  readonly dir: string | undefined;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly log: Logger;
  readonly now?: () => number;
  /** @default 5000 */
  readonly spillAfterMs?: number;
  /** How often queued data is fsynced to the SD card while some is pending. @default 30000 */
  readonly syncEveryMs?: number;
  /** Housekeeping period: spill, marks, retries. @default 1000 */
  readonly tickMs?: number;
  /** @default 32 */
  readonly window?: number;
  /**
   * How long a new message may wait for others before the window is filled (ms). Sent one
   * by one, each reading costs its own socket write and its own PUBACK wake-up; gathered, a
   * whole window goes out in one write() (MQTT.js corks the socket until the next tick).
   * @default 20
   */
  readonly flushMs?: number;
}

/** Without a writable state directory the queue lives in memory: keep it small. */
export const MEMORY_ONLY_MAX_MESSAGES = 50_000;
/** Write a delivered mark at least every this many acknowledgements (bounds duplicates after a crash). */
const MARK_EVERY = 100;
const STOP_WAIT_MS = 2_000;
const RETAIN_QOS1 = Object.freeze({ qos: 1, retain: true } as const);

export class Outbox {
  readonly #o: OutboxOptions;
  #link: OutboxLink;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #q = new OutboxQueue();
  readonly #ep: OutboxEpisodes;
  #store: SegmentStore | undefined;
  #maxMessages: number;
  #lastSeq = 0;
  #marked = 0;
  #doneSinceMark = 0;
  #lastSync = 0;
  /** Writes failing (disk full, read-only, gone): since when and how often, for the line that says it works again. */
  #writeFailing: { since: number; count: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flush: NodeJS.Timeout | undefined;
  /**
   * Messages (and bytes) gathered for the pending flush. They do not count against the
   * limits: with the broker acknowledging they were never meant to wait, and a burst of
   * readings must not push out anything while connected (a small `max_messages`).
   */
  #unflushed = { count: 0, bytes: 0 };
  #refill = false;
  readonly #refillNow = (): void => {
    this.#refill = false;
    this.#pump();
  };
  readonly #flushNow = (): void => {
    this.#flush = undefined;
    this.#unflushed = { count: 0, bytes: 0 };
    this.#pump();
  };
  #drained: (() => void) | undefined;
  #stopping: Promise<void> | undefined;
  readonly #onUp = (): void => this.#pump();
  readonly #onDown = (): void => {
    this.#unflushed = { count: 0, bytes: 0 };
    this.#enforceLimits();
    this.#spill(true);
  };

  constructor(options: OutboxOptions) {
    this.#o = options;
    this.#link = options.link;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#maxMessages = options.maxMessages;
    this.#ep = new OutboxEpisodes(options.log, this.#now);
  }

  /** Open the queue directory and pick up what an earlier run left; never throws for a bad directory. */
  start(): void {
    if (this.#o.dir !== undefined) this.#open(this.#o.dir);
    if (!this.#store) this.#maxMessages = Math.min(this.#maxMessages, MEMORY_ONLY_MAX_MESSAGES);
    this.#link.events.on('up', this.#onUp);
    this.#link.events.on('down', this.#onDown);
    this.#timer = setInterval(() => this.#tick(), this.#o.tickMs ?? 1_000);
    this.#timer.unref();
    this.#enforceLimits();
    this.#pump();
  }

  #open(dir: string): void {
    const store = new SegmentStore({ dir });
    let oldest: number | undefined;
    try {
      const report = store.open((m, size) => {
        oldest ??= m.at;
        this.#q.account(m, size);
      });
      if (report.tookOverFrom !== undefined) this.#log.info({ dir, pid: report.tookOverFrom }, 'outbox was left locked by an agent that did not stop cleanly');
      for (const d of report.damaged) this.#log.warn({ ...d }, 'outbox file damaged (power cut mid-write?): kept every whole record, skipped the rest');
      for (const u of report.unreadable) this.#log.error({ ...u }, 'cannot read an outbox file: its readings are lost');
      this.#q.attach(store, report.doneThrough);
      this.#lastSeq = store.lastSeq;
      this.#marked = report.doneThrough;
      this.#store = store;
    } catch (err) {
      store.close();
      this.#q.clear();
      this.#log.error({ dir, err: errText(err), maxMessages: MEMORY_ONLY_MAX_MESSAGES }, 'cannot use the outbox directory: queueing in memory only (lost on restart)');
      return;
    }
    const queued = { dir, queued: this.#q.count, bytes: this.#q.bytes, maxMessages: this.#maxMessages, maxBytes: this.#o.maxBytes };
    if (this.#q.count === 0) return this.#log.info(queued, 'outbox ready');
    this.#log.info({ ...queued, oldest: new Date(oldest ?? 0).toISOString() }, 'outbox holds readings from an earlier run: delivering them first');
    this.#ep.resumed();
  }

  /**
   * Send through another connection from now on (a live reload replaced it). What the old
   * one still had in flight is refused when it stops, and so sent again through this one.
   */
  setLink(link: OutboxLink): void {
    this.#link.events.off('up', this.#onUp);
    this.#link.events.off('down', this.#onDown);
    this.#link = link;
    if (this.#stopping) return;
    link.events.on('up', this.#onUp);
    link.events.on('down', this.#onDown);
    this.#pump();
  }

  /** Queue one message. Returns at once; with the link down it is on disk (page cache) before this returns. */
  enqueue(message: OutgoingMessage): void {
    if (this.#stopping) return;
    const m: QueuedMessage = { topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain, latest: message.latest, seq: ++this.#lastSeq, at: this.#now() };
    const entry = new MemMessage(m);
    this.#q.push(entry);
    const ms = this.#o.flushMs ?? 20;
    if (this.#link.connected && ms > 0) {
      this.#unflushed.count++;
      this.#unflushed.bytes += entry.size;
    }
    this.#enforceLimits();
    if (!this.#link.connected) this.#spill(true);
    else if (ms <= 0) this.#pump();
    else this.#flush ??= setTimeout(this.#flushNow, ms);
  }

  stats(): OutboxStats {
    return { dir: this.#store?.dir, queued: this.#q.count, bytes: this.#q.bytes, inFlight: this.#q.inflight.size, ...this.#ep.totals };
  }

  #pump(): void {
    const link = this.#link;
    const window = Math.max(1, Math.min(this.#o.window ?? 32, link.receiveMaximum ?? Infinity));
    const inflight = this.#q.inflight;
    while (link.connected && !this.#stopping && inflight.size < window) {
      const m = this.#q.takeNext();
      if (!m) break;
      if (this.#q.superseded(m)) {
        this.#finish(m, 'superseded');
        continue;
      }
      inflight.set(m.seq, m);
      const done = (err: unknown): void => this.#settled(m, err);
      const opts = m.retain ? (m.qos === 1 ? RETAIN_QOS1 : { qos: m.qos, retain: true }) : { qos: m.qos, retain: false };
      if (link.send) link.send(m.topic, m.payload, opts, done);
      else link.publish(m.topic, m.payload, opts).then(() => done(undefined), (err: unknown) => done(err ?? new Error('refused')));
    }
  }

  /** The broker acknowledged `m` (err undefined) or the client refused it. */
  #settled(m: StoredMessage, err: unknown): void {
    if (!this.#q.inflight.delete(m.seq)) return;
    if (!err) {
      this.#finish(m, 'delivered');
      // Refilled once the acknowledgements that came in together are all handled: MQTT.js
      // handles one PUBACK per tick, and a publish per PUBACK would be a socket write each.
      if (!this.#refill) {
        this.#refill = true;
        setImmediate(this.#refillNow);
      }
      return;
    }
    if (this.#stopping) return;
    // Sent again from the next tick on, ahead of everything newer.
    this.#log.debug({ topic: m.topic, seq: m.seq, err: errText(err) }, 'publish refused: will resend');
    this.#q.refused(m);
  }

  #finish(m: StoredMessage, how: Outcome): void {
    if (this.#q.settle(m) === 'disk') this.#doneSinceMark++;
    this.#ep.settled(how);
    if (this.#q.inflight.size === 0) this.#drained?.();
    if (this.#doneSinceMark >= MARK_EVERY) this.#mark();
  }

  /** Over a limit: drop the oldest waiting message until under it. Logged when dropping starts and ends. */
  #enforceLimits(): void {
    const over = (): boolean => this.#q.count - this.#unflushed.count > this.#maxMessages || this.#q.bytes - this.#unflushed.bytes > this.#o.maxBytes;
    if (!over()) return this.#ep.endDropping();
    while (over()) {
      const m = this.#q.takeNext();
      if (!m) return;
      const superseded = this.#q.superseded(m);
      if (!superseded && !this.#ep.dropping) {
        const { count: queued, bytes } = this.#q;
        this.#ep.startDropping({ queued, bytes, maxMessages: this.#maxMessages, maxBytes: this.#o.maxBytes, oldest: new Date(m.at).toISOString() });
      }
      this.#finish(m, superseded ? 'superseded' : 'dropped');
    }
  }

  /** Write waiting messages to disk, in one write: all of them, or those unacknowledged for spillAfterMs. */
  #spill(all: boolean): void {
    const store = this.#store;
    const mem = this.#q.memory;
    if (!store || mem.length === 0) return;
    const before = this.#now() - (this.#o.spillAfterMs ?? 5_000);
    const young = all ? -1 : mem.findIndex((e) => e.at > before);
    const n = young === -1 ? mem.length : young;
    if (n === 0) return;
    const batch = mem.slice(0, n);
    try {
      store.append(batch);
    } catch (err) {
      if (!this.#writeFailing) this.#log.warn({ dir: store.dir, err: errText(err) }, 'cannot write the outbox: keeping readings in memory until it works again');
      this.#writeFailing ??= { since: this.#now(), count: 0 };
      this.#writeFailing.count++;
      return;
    }
    const failing = this.#writeFailing;
    if (failing) this.#log.info({ dir: store.dir, failedWrites: failing.count, durationMs: this.#now() - failing.since }, 'outbox writable again');
    this.#writeFailing = undefined;
    this.#q.written(n);
    this.#ep.written(n, store.dir, this.#link.connected);
  }

  /** Write "done up to N" and delete the files that are fully delivered. */
  #mark(): void {
    this.#doneSinceMark = 0;
    const store = this.#store;
    if (!store) return;
    // Capped at what is on disk: acknowledgements of messages never written cost no write.
    const done = Math.min(this.#q.doneThrough(), store.lastSeq);
    if (done <= this.#marked) return;
    try {
      // Everything on disk delivered: deleting the files says it without a mark.
      if (done < store.lastSeq) store.markDone(done);
      this.#marked = done;
      store.compact(done);
    } catch (err) {
      this.#log.debug({ err: errText(err) }, 'cannot write the outbox delivery mark');
    }
  }

  #tick(): void {
    if (this.#link.connected) this.#pump();
    this.#spill(!this.#link.connected);
    this.#mark();
    for (const lost of this.#store?.takeLost() ?? []) this.#log.error({ ...lost }, 'cannot read an outbox file back: its readings are lost');
    const now = this.#now();
    if (this.#store && now - this.#lastSync >= (this.#o.syncEveryMs ?? 30_000)) {
      this.#lastSync = now;
      try {
        this.#store.sync();
      } catch (err) {
        this.#log.debug({ err: errText(err) }, 'outbox fsync failed');
      }
    }
    if (this.#q.count === 0) this.#ep.emptied();
  }

  /** Idempotent: waits briefly for acknowledgements, then writes whatever is still unacknowledged. */
  stop(): Promise<void> {
    // What was gathered for the next write goes now, so the wait below covers it too.
    if (this.#stopping === undefined && this.#flush !== undefined) {
      clearTimeout(this.#flush);
      this.#flushNow();
    }
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    clearInterval(this.#timer);
    clearTimeout(this.#flush);
    this.#link.events.off('up', this.#onUp);
    this.#link.events.off('down', this.#onDown);
    if (this.#q.inflight.size > 0 && this.#link.connected) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = setTimeout(resolve, STOP_WAIT_MS);
      });
      clearTimeout(timer);
    }
    this.#spill(true);
    this.#mark();
    if (this.#q.count === 0) this.#ep.emptied();
    else this.#ep.endDropping();
    try {
      this.#store?.close();
    } catch (err) {
      this.#log.warn({ err: errText(err) }, 'closing the outbox failed');
    }
    this.#log.info({ queued: this.#q.count, ...this.#ep.totals }, 'outbox closed');
  }
}

/**
 * A message in memory. Its disk line (JSON, CRC) is built only if it is ever written:
 * with the broker acknowledging, it never is. The size (what counts against `max_bytes`)
 * is the line's, computed from the same JSON.
 */
class MemMessage implements MemEntry {
  readonly seq: number;
  readonly at: number;
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly latest: boolean;
  readonly size: number;
  #json: string | undefined;

  constructor(m: QueuedMessage) {
    this.seq = m.seq;
    this.at = m.at;
    this.topic = m.topic;
    this.payload = m.payload;
    this.qos = m.qos;
    this.retain = m.retain;
    this.latest = m.latest;
    this.#json = messageJson(m);
    this.size = lineSize(this.#json);
  }

  get line(): Buffer {
    const line = encodeJsonLine(this.#json ?? messageJson(this));
    this.#json = undefined;
    return line;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
