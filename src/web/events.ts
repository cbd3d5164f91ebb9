import type { ServerResponse } from 'node:http';

export interface EventHubOptions {
  /** More open pages than this get 503: each holds a socket and some memory. @default 32 */
  readonly maxClients?: number;
  /** A comment line this often keeps proxies and phones from dropping an idle stream. @default 15 s */
  readonly heartbeatMs?: number;
  /** A client that lets this much pile up unread is dropped; its EventSource reconnects. @default 4 MB */
  readonly maxBufferedBytes?: number;
}

/**
 * Server-Sent Events (WHATWG HTML §9.2) to every open page: one long response per
 * page, `event:` + `data:` records. The browser's EventSource reconnects by itself
 * after a drop (after `retry:` ms), and every (re)connection starts with a full
 * snapshot, so a page never misses a change and never needs a reload.
 */
export class EventHub {
  readonly #clients = new Set<ServerResponse>();
  readonly #max: number;
  readonly #heartbeatMs: number;
  readonly #maxBuffered: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: EventHubOptions = {}) {
    this.#max = options.maxClients ?? 32;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
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
    res.on('close', () => this.#clients.delete(res));
    this.#write(res, record(first.event, first.data));
    this.#timer ??= setInterval(() => this.#heartbeat(), this.#heartbeatMs).unref();
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
  }

  #heartbeat(): void {
    for (const res of this.#clients) this.#write(res, ': ping\n\n');
  }

  #write(res: ServerResponse, text: string): void {
    if (res.writableLength > this.#maxBuffered) {
      this.#clients.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  }
}

/** One SSE record. JSON has no raw newlines, so one `data:` line is enough. */
function record(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
