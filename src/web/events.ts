import type { ServerResponse } from 'node:http';

export interface EventHubOptions {
  /** More open pages than this get 503: each holds a socket and some memory. @default 32 */
  readonly maxClients?: number;
  /** A comment line this often keeps proxies and phones from dropping an idle stream. @default 15 s */
  readonly heartbeatMs?: number;
  /** A client that lets this much pile up unread is dropped; its EventSource reconnects. @default 1 MiB */
  readonly maxBufferedBytes?: number;
  /** A client whose socket has not taken what was written for this long is dropped. @default 30 s */
  readonly stallMs?: number;
  /** Told once per client dropped, with why. */
  readonly onDrop?: (reason: 'buffer' | 'stalled', bufferedBytes: number) => void;
  /** Told the number of open pages whenever it changes. */
  readonly onClients?: (count: number) => void;
  readonly now?: () => number;
}

/**
 * Server-Sent Events (WHATWG HTML §9.2) to every open page: one long response per
 * page, `event:` + `data:` records. The browser's EventSource reconnects by itself
 * after a drop (after `retry:` ms), and every (re)connection starts with a full
 * snapshot, so a page never misses a change and never needs a reload.
 */
export class EventHub {
  readonly #clients = new Set<ServerResponse>();
  /** Since when each client's socket has refused more (write() returned false), until its 'drain'. */
  readonly #stalled = new Map<ServerResponse, number>();
  readonly #o: EventHubOptions;
  readonly #max: number;
  readonly #heartbeatMs: number;
  readonly #maxBuffered: number;
  readonly #stallMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EventHubOptions = {}) {
    this.#o = options;
    this.#max = options.maxClients ?? 32;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#stallMs = options.stallMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#clients.size;
  }

  get full(): boolean {
    return this.#clients.size >= this.#max;
  }

  /** Take over a response as an event stream; `first` is written before anything else. */
  add(res: ServerResponse, headers: Record<string, string>, first: { event: string; data: unknown }): void {
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\n\n');
    this.#clients.add(res);
    res.on('close', () => this.#remove(res));
    res.on('drain', () => this.#stalled.delete(res));
    // The stream is long-lived: the server's idle timeout is for requests, not for this.
    res.socket?.setTimeout(0);
    this.#write(res, record(first.event, first.data));
    this.#timer ??= setInterval(() => this.#heartbeat(), this.#heartbeatMs).unref();
    this.#o.onClients?.(this.#clients.size);
  }

  send(event: string, data: unknown): void {
    if (this.#clients.size === 0) return;
    const text = record(event, data);
    for (const res of this.#clients) this.#write(res, text);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#stalled.clear();
  }

  #remove(res: ServerResponse): void {
    if (!this.#clients.delete(res)) return;
    this.#stalled.delete(res);
    // No page open, nothing to keep alive: an idle agent's loop should not wake for it.
    if (this.#clients.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    this.#o.onClients?.(this.#clients.size);
  }

  #heartbeat(): void {
    for (const res of this.#clients) this.#write(res, ': ping\n\n');
  }

  /**
   * A client that does not read is dropped before its buffer grows: once what it has not
   * taken, with this record, would pass maxBufferedBytes, or once its socket has refused
   * more for stallMs. The first record (the snapshot) always goes out whole.
   */
  #write(res: ServerResponse, text: string): void {
    const buffered = res.writableLength;
    const since = this.#stalled.get(res);
    const reason = buffered > 0 && buffered + text.length > this.#maxBuffered ? 'buffer' : since !== undefined && this.#now() - since > this.#stallMs ? 'stalled' : undefined;
    if (reason) {
      this.#remove(res);
      res.destroy();
      this.#o.onDrop?.(reason, buffered);
      return;
    }
    if (!res.write(text) && since === undefined) this.#stalled.set(res, this.#now());
  }
}

/** One SSE record. JSON has no raw newlines, so one `data:` line is enough. */
function record(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
