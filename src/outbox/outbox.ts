import type { Logger } from '../log.js';
import { atMost } from '../system/at-most.js';
import { errText } from '../system/err-text.js';
import { openOutboxDir, type OutboxDisk } from './disk.js';
import { OutboxEpisodes, type Outcome } from './episodes.js';
import { Housekeeping } from './housekeeping.js';
import { brokerReasonCode, type OutboxLink, type OutboxStats, type OutgoingMessage } from './link.js';
import { OutboxQueue } from './queue.js';
import { messageLineSize } from './record.js';
import type { StoredMessage } from './store.js';

export type { OutboxLink, OutboxStats, OutgoingMessage };

/**
 * Store-and-forward for every message the agent publishes. Messages go out in the order
 * they were queued (the newest `latest` one per topic first, see queue.ts), at
 * most `window` unacknowledged at a time (so MQTT.js never holds more than that in its
 * own memory store), and only while the link is up.
 *
 * Nothing touches the disk while the broker acknowledges: a message is written (disk.ts) only
 * when the link goes down, or has waited `spillAfterMs` for its acknowledgement. Delivery progress is written as "done up to seq N" marks, so a
 * restart resends at most one mark interval (100) plus the send window (32): QoS 1
 * allows duplicates, never losses. Beyond `maxMessages`/`maxBytes` the oldest waiting
 * message is dropped; a `latest` message with a newer one on its topic is skipped
 * (superseded), which is not a loss. A publish the broker refuses with a reason code is
 * final (rejected, counted); one the client gave back (the connection went) goes again.
 */

export interface OutboxOptions {
  readonly link: OutboxLink;
  /** `<state_dir>/outbox`; undefined keeps the queue in memory only. */
  readonly dir: string | undefined;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly log: Logger;
  readonly now?: () => number;
  /**
   * How long a message may wait for its acknowledgement before it is written. A healthy
   * broker acknowledges in milliseconds; a half-open connection (Wi-Fi gone, keepalive
   * not expired yet) never does, and what is only in memory dies with a SIGKILL.
   * @default 1000
   */
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
  /** Most messages kept in memory while the disk cannot be written (or there is none). @default MEMORY_ONLY_MAX_MESSAGES */
  readonly memoryMaxMessages?: number;
}

/** Without a writable state directory the queue lives in memory: keep it small. */
export const MEMORY_ONLY_MAX_MESSAGES = 50_000;
const STOP_WAIT_MS = 2_000;
const RETAIN_QOS1 = Object.freeze({ qos: 1, retain: true } as const);

export class Outbox {
  readonly #o: OutboxOptions;
  #link: OutboxLink;
  /** Bumped with each new link: results from an older one are ignored. */
  #linkGen = 0;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #q = new OutboxQueue();
  readonly #ep: OutboxEpisodes;
  #disk: OutboxDisk | undefined;
  #maxMessages: number;
  readonly #memoryMax: number;
  #lastSeq = 0;
  readonly #housekeeping: Housekeeping;
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
    this.#memoryMax = options.memoryMaxMessages ?? MEMORY_ONLY_MAX_MESSAGES;
    this.#ep = new OutboxEpisodes(options.log, this.#now);
    this.#housekeeping = new Housekeeping(() => this.#tick(), options.tickMs ?? 1_000);
  }

  /** Open the queue directory and pick up what an earlier run left; never throws for a bad directory. */
  start(): void {
    const { dir, spillAfterMs = 1_000, syncEveryMs = 30_000 } = this.#o;
    if (dir !== undefined) {
      const opened = openOutboxDir({ dir, queue: this.#q, episodes: this.#ep, log: this.#log, now: this.#now, spillAfterMs, syncEveryMs }, this.#memoryMax);
      this.#disk = opened?.disk;
      this.#lastSeq = opened?.lastSeq ?? 0;
      if (opened) this.#log.info({ ...opened.report, maxMessages: this.#maxMessages, maxBytes: this.#o.maxBytes }, opened.message);
    }
    if (!this.#disk) this.#maxMessages = Math.min(this.#maxMessages, this.#memoryMax);
    this.#link.events.on('up', this.#onUp);
    this.#link.events.on('down', this.#onDown);
    this.#housekeeping.wake();
    this.#enforceLimits();
    this.#pump();
  }

  /**
   * Send through another connection from now on (a live reload replaced it). What the old
   * one had in flight goes again first, in order, through this one; whatever the old one
   * still answers is ignored (at worst a duplicate, which QoS 1 allows).
   */
  setLink(link: OutboxLink): void {
    this.#link.events.off('up', this.#onUp);
    this.#link.events.off('down', this.#onDown);
    this.#link = link;
    this.#linkGen++;
    this.#q.requeueInflight();
    if (this.#stopping) return this.#drained?.();
    link.events.on('up', this.#onUp);
    link.events.on('down', this.#onDown);
    this.#pump();
  }

  /** Queue one message. Returns at once; with the link down it is on disk (page cache) before this returns. */
  enqueue(message: OutgoingMessage): void {
    if (this.#stopping) return;
    const entry = { topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain, latest: message.latest, seq: ++this.#lastSeq, at: this.#now(), size: 0 };
    // What counts against max_bytes: the size of its line on disk, counted without encoding it.
    entry.size = messageLineSize(entry);
    this.#q.push(entry);
    this.#housekeeping.wake();
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
    return { dir: this.#disk?.store.dir, queued: this.#q.count, bytes: this.#q.bytes, inFlight: this.#q.inflight.size, idle: this.#housekeeping.asleep, ...this.#ep.totals };
  }

  #pump(): void {
    const link = this.#link;
    const gen = this.#linkGen;
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
      const done = (err: unknown): void => this.#settled(m, err, gen);
      const opts = m.retain ? (m.qos === 1 ? RETAIN_QOS1 : { qos: m.qos, retain: true }) : { qos: m.qos, retain: false };
      link.send(m.topic, m.payload, opts, done);
    }
  }

  /** The broker acknowledged `m` (err undefined), refused it (a reason code), or the client gave it back. */
  #settled(m: StoredMessage, err: unknown, gen: number): void {
    // A link replaced since (live reload): its answers no longer count, `m` was sent again.
    if (gen !== this.#linkGen || !this.#q.inflight.delete(m.seq)) return;
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
    const code = brokerReasonCode(err);
    if (code !== undefined) {
      // The broker's answer (an ACL, a quota, a bad topic): the same again next time.
      this.#ep.rejected(m.topic, code, errText(err));
      this.#finish(m, 'rejected');
      return this.#pump();
    }
    // Sent again from the next tick on, ahead of everything newer (kept below the delivered mark while stopping).
    this.#log.debug({ topic: m.topic, seq: m.seq, err: errText(err) }, 'publish refused: will resend');
    this.#q.refused(m);
  }

  #finish(m: StoredMessage, how: Outcome): void {
    if (this.#q.settle(m) === 'disk') this.#disk?.settled();
    this.#ep.settled(how, m.topic);
    if (this.#q.inflight.size === 0) this.#drained?.();
  }

  /**
   * Over a limit: drop the oldest waiting message until under it. While the disk cannot
   * be written, memory holds at most `memoryMaxMessages` of them. Logged when dropping
   * starts and ends.
   */
  #enforceLimits(): void {
    const over = (): boolean => this.#q.count - this.#unflushed.count > this.#maxMessages || this.#q.bytes - this.#unflushed.bytes > this.#o.maxBytes;
    const unwritable = this.#disk?.writeFailing ? this.#q.memoryBeyond(this.#memoryMax) : [];
    if (!over() && unwritable.length === 0) {
      // At the memory cap with the disk still failing, the next message drops one again: the same episode.
      if (!this.#disk?.writeFailing || this.#q.memory.length < this.#memoryMax) this.#ep.endDropping();
      return;
    }
    for (const m of unwritable) {
      this.#startDropping(m, { memoryMaxMessages: this.#memoryMax, reason: 'the outbox cannot be written' });
      this.#finish(m, 'dropped');
    }
    while (over()) {
      const m = this.#q.takeOldest();
      if (!m) return;
      const superseded = this.#q.superseded(m);
      if (!superseded) this.#startDropping(m, { maxMessages: this.#maxMessages, maxBytes: this.#o.maxBytes });
      this.#finish(m, superseded ? 'superseded' : 'dropped');
    }
  }

  #startDropping(m: StoredMessage, limits: Record<string, unknown>): void {
    if (this.#ep.dropping) return;
    const { count: queued, bytes } = this.#q;
    this.#ep.startDropping({ queued, bytes, ...limits, oldest: new Date(m.at).toISOString() });
  }

  #spill(all: boolean): void {
    this.#disk?.spill(all, this.#link.connected);
    if (this.#disk?.writeFailing) this.#enforceLimits();
  }

  /** False (sleep until enqueue()) once nothing is waiting, in flight or failing to be written. */
  #tick(): boolean {
    if (this.#link.connected) this.#pump();
    this.#spill(!this.#link.connected);
    this.#disk?.mark();
    this.#disk?.tick();
    if (this.#q.count > 0) return true;
    this.#ep.emptied();
    return this.#disk?.writeFailing === true;
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
    this.#housekeeping.stop();
    clearTimeout(this.#flush);
    this.#link.events.off('up', this.#onUp);
    this.#link.events.off('down', this.#onDown);
    if (this.#q.inflight.size > 0 && this.#link.connected) {
      await atMost(new Promise<void>((resolve) => (this.#drained = resolve)), STOP_WAIT_MS);
    }
    this.#spill(true);
    this.#disk?.mark();
    if (this.#q.count === 0) this.#ep.emptied();
    else this.#ep.endDropping();
    this.#ep.endRefusals();
    this.#disk?.close();
    this.#log.info({ queued: this.#q.count, ...this.#ep.totals }, 'outbox closed');
  }
}
