import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chmodSync, close, closeSync, constants, open, openSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/**
 * Fresh FIFOs made ahead of time in batches: Node has no mkfifo(), and spawning `mkfifo`
 * from this process would stall its event loop (fork of a process with hundreds of
 * threads) in the middle of simulated reads. A long-lived shell makes them on request.
 * They live on the same filesystem as the tree so rename() can swap one in atomically.
 */
export class FifoStock {
  readonly #dir: string;
  readonly #ready: string[] = [];
  #serial = 0;
  #refill: Promise<void> | undefined;
  #maker: ChildProcessByStdio<Writable, Readable, null> | undefined;
  #waiters: ((ok: boolean) => void)[] = [];

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Make the first `count` FIFOs (one per served file, plus some to spare). */
  async start(count: number): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const maker = spawn('sh', ['-c', 'while read -r names; do mkfifo -m 644 $names && echo ok || echo fail; done'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#maker = maker;
    maker.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) this.#waiters.shift()?.(line === 'ok');
    });
    maker.on('exit', () => {
      for (const w of this.#waiters.splice(0)) w(false);
    });
    for (let left = count; left > 0; left -= 500) await this.#make(Math.min(500, left));
  }

  /** Put a fresh FIFO at `path` (replacing what is there) with one atomic rename. */
  async place(path: string, mode = 0o644): Promise<void> {
    if (this.#ready.length < 128) this.#refill ??= this.#make(512).finally(() => (this.#refill = undefined));
    if (this.#ready.length === 0) await this.#refill;
    const fifo = this.#ready.pop();
    if (fifo === undefined) throw new Error('no FIFO could be made');
    if (mode !== 0o644) chmodSync(fifo, mode);
    renameSync(fifo, path);
  }

  stop(): void {
    this.#maker?.stdin.end();
  }

  async #make(count: number): Promise<void> {
    const names = Array.from({ length: count }, () => join(this.#dir, `f${this.#serial++}`));
    const maker = this.#maker;
    if (!maker) throw new Error('FIFO stock not started');
    const ok = await new Promise<boolean>((resolve) => {
      this.#waiters.push(resolve);
      maker.stdin.write(`${names.join(' ')}\n`);
    });
    if (!ok) throw new Error(`mkfifo failed in ${this.#dir}`);
    this.#ready.push(...names);
  }
}

/**
 * One readable sysfs attribute (w1_slave, temperature) served through a FIFO: the reader's
 * open() pairs with our pending open(O_WRONLY), which tells us a read started; we swap a
 * fresh FIFO in at once (so the next reader waits for its own answer), compute the answer,
 * write it and close, and the reader sees it, then EOF. Each pending open holds one libuv
 * thread: run this in its own process (sim-child.ts).
 */
export class FifoFile {
  readonly path: string;
  readonly #stock: FifoStock;
  readonly #mode: number;
  readonly #answer: (arrival: number) => Promise<string>;
  #closed = false;
  /** What close() leaves at the path; undefined: nothing (the caller removes the file). */
  #replacement: string | undefined;
  #loop: Promise<void> | undefined;

  constructor(path: string, stock: FifoStock, answer: (arrival: number) => Promise<string>, mode = 0o644) {
    this.path = path;
    this.#stock = stock;
    this.#answer = answer;
    this.#mode = mode;
  }

  async start(): Promise<void> {
    await this.#stock.place(this.path, this.#mode);
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    try {
      while (!this.#closed) {
        // Plain fds, closed synchronously: a reader waits for our close() to see EOF, and a
        // trip through the thread pool there would add to every simulated read.
        let opened: { fd: number; at: number };
        try {
          opened = await openFd(this.path, constants.O_WRONLY);
        } catch {
          return; // the file was removed (a vanished sensor)
        }
        if (this.#closed) {
          closeSync(opened.fd);
          return;
        }
        // The read's bus time runs from here: swapping the next FIFO in, the trigger drain and
        // the answer's rendering happen inside it, not on top of it (bus-model.ts #withBus).
        const served = this.#serve(opened.fd, opened.at);
        await this.#stock.place(this.path, this.#mode);
        void served;
      }
    } finally {
      if (this.#closed && this.#replacement !== undefined) {
        writeFileSync(`${this.path}.tmp`, this.#replacement);
        renameSync(`${this.path}.tmp`, this.path);
      }
    }
  }

  async #serve(fd: number, arrival: number): Promise<void> {
    try {
      const text = await this.#answer(arrival);
      // ≤ 100 bytes into an empty pipe never blocks; EPIPE when the reader gave up is fine.
      if (text.length > 0) writeSync(fd, text);
      closeSync(fd);
    } catch {
      close(fd, () => {}); // the reader went away: nothing to answer
    }
  }

  /**
   * Stop serving: complete our own pending open with a non-blocking open of the other end,
   * then leave `replacement` (a plain file, e.g. empty) at the path so a reader that comes
   * later gets EOF instead of blocking forever on a FIFO nobody serves.
   */
  async close(replacement: string | undefined = ''): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#replacement = replacement;
    try {
      closeSync(openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK));
    } catch {
      // no pending open to complete (ENXIO), or the file is gone
    }
    await this.#loop;
  }
}

/**
 * A writable attribute (therm_bulk_read) as a FIFO that we hold open read-write and
 * non-blocking, so a writer's open() never waits and its bytes sit in the pipe. drain()
 * hands them over synchronously: the bus calls it before every read, which keeps "the agent
 * wrote the trigger, then read" in that order however the threads happen to wake (a
 * pending open per writer would race the reads). A timer drains triggers no read follows.
 */
export class CommandFifo {
  readonly path: string;
  readonly #stock: FifoStock;
  readonly #mode: number;
  readonly #onText: (text: string, seen: number) => void;
  #fd: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #buffer = Buffer.alloc(4096);

  constructor(path: string, stock: FifoStock, onText: (text: string, seen: number) => void, mode = 0o644) {
    this.path = path;
    this.#stock = stock;
    this.#onText = onText;
    this.#mode = mode;
  }

  async start(): Promise<void> {
    await this.#stock.place(this.path, this.#mode);
    this.#fd = openSync(this.path, constants.O_RDWR | constants.O_NONBLOCK);
    this.#timer = setInterval(() => this.drain(), 20);
  }

  /** Hand over what was written; `seen`: when (the writer wrote it at or before then). */
  drain(seen: number = performance.now()): void {
    if (this.#fd === undefined) return;
    let text = '';
    for (;;) {
      let n = 0;
      try {
        n = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, null);
      } catch {
        break; // EAGAIN: the pipe is empty
      }
      if (n <= 0) break;
      text += this.#buffer.toString('latin1', 0, n);
    }
    if (text.length > 0) this.#onText(text, seen);
  }

  close(): void {
    clearInterval(this.#timer);
    if (this.#fd === undefined) return;
    this.drain();
    closeSync(this.#fd);
    this.#fd = undefined;
    writeFileSync(`${this.path}.tmp`, '0\n');
    renameSync(`${this.path}.tmp`, this.path);
  }
}

/** open(), and when this process saw it complete: for a FIFO, the moment a reader arrived. */
function openFd(path: string, flags: number): Promise<{ fd: number; at: number }> {
  return new Promise((resolve, reject) => open(path, flags, (err, fd) => (err ? reject(err) : resolve({ fd, at: performance.now() }))));
}
