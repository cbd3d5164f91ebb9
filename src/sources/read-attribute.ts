import { close, constants, fstat, open, read, write, type PathLike } from 'node:fs';

// Small enough to come from Node's shared buffer pool; a w1_slave text is 75 bytes.
const CHUNK = 512;
/**
 * A sysfs attribute is at most one page (a show() method gets a PAGE_SIZE buffer); a w1_slave
 * is under 100 bytes. Past this the file is not what it claims (`/dev/zero`, a 20 MB file
 * without a newline): the read ends with EFBIG instead of spinning and growing forever.
 */
export const MAX_ATTRIBUTE_BYTES = 4096;

/**
 * Read a sysfs-style attribute with as little work per call as possible: open, one read,
 * close, on plain fds through the callback API (a fs/promises FileHandle costs several
 * times more CPU per file, which shows at a thousand sensors a second). A sysfs show()
 * hands its whole text (≤ PAGE_SIZE) to the first read, so readFile's fstat and read-to-EOF
 * trips are saved; text that does not end in a newline is read on to EOF, as readFile
 * would. The close is not waited for: the reading is complete once read() returns.
 * `toEof`: read on to EOF even past a newline (readFile's way, capped like the rest).
 */
export function readAttribute(path: PathLike, toEof = false): Promise<string> {
  return new Promise((resolve, reject) => {
    open(path, constants.O_RDONLY, (err, fd) => {
      if (err) return reject(err);
      let text = '';
      const buffer = Buffer.allocUnsafe(CHUNK);
      const next = (): void =>
        read(fd, buffer, 0, CHUNK, null, (readErr, n) => {
          if (readErr) {
            close(fd, () => reject(readErr));
            return;
          }
          text += buffer.toString('latin1', 0, n);
          if (text.length > MAX_ATTRIBUTE_BYTES) {
            close(fd, () => reject(tooLong(path)));
            return;
          }
          if (n > 0 && (toEof || !text.endsWith('\n'))) return next();
          close(fd, () => {});
          resolve(text);
        });
      next();
    });
  });
}

/**
 * Reads attributes through fds kept open: sysfs re-runs show() for a read at offset 0
 * (kernfs seq_file restarts when the position goes back), so one pread() per reading is
 * one thread-pool trip instead of three. Only regular files qualify (checked once per
 * path); anything else (a FIFO, as in the bus simulator) is opened for every read. A
 * failed pread (ENODEV once the kernel removed the slave) drops the fd and reports the error.
 * Off unless `keepOpen` (the w1 source sets it for a tree on sysfs).
 */
export class AttributeReader {
  readonly #fds = new Map<string, number>();
  readonly #oneShot = new Set<string>();
  /** Only on sysfs: on other filesystems a file replaced by rename() would read stale through a kept fd. */
  keepOpen = false;

  read(path: string): Promise<string> {
    if (!this.keepOpen) return readAttribute(path);
    const fd = this.#fds.get(path);
    // Not async: the steady state is one pread, without a promise of its own around it.
    if (fd !== undefined) return readFrom(fd, 0, path, () => this.forget(path));
    if (this.#oneShot.has(path)) return readAttribute(path);
    return this.#openAndRead(path);
  }

  async #openAndRead(path: string): Promise<string> {
    const opened = await new Promise<number>((resolve, reject) => open(path, constants.O_RDONLY, (err, n) => (err ? reject(err) : resolve(n))));
    const regular = await new Promise<boolean>((resolve) => fstat(opened, (err, st) => resolve(!err && st.isFile())));
    try {
      const text = await readFrom(opened, null, path);
      if (regular) this.#fds.set(path, opened);
      return text;
    } finally {
      if (!regular) {
        this.#oneShot.add(path);
        close(opened, () => {});
      }
    }
  }

  /** Close the fd kept for `path` (a vanished device). */
  forget(path: string): void {
    const fd = this.#fds.get(path);
    this.#fds.delete(path);
    if (fd !== undefined) close(fd, () => {});
  }

  closeAll(): void {
    for (const path of [...this.#fds.keys()]) this.forget(path);
    this.#oneShot.clear();
  }
}

/** Read to a newline or EOF, starting at `position` (null: the fd's own position); `onError` runs before the rejection. */
function readFrom(fd: number, position: number | null, path: PathLike, onError?: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const buffer = Buffer.allocUnsafe(CHUNK);
    const next = (): void =>
      // latin1: one byte per character, so text.length is the offset read so far.
      read(fd, buffer, 0, CHUNK, position === null ? null : position + text.length, (err, n) => {
        if (err) {
          onError?.();
          return reject(err);
        }
        text += buffer.toString('latin1', 0, n);
        if (text.length > MAX_ATTRIBUTE_BYTES) {
          onError?.();
          return reject(tooLong(path));
        }
        if (n > 0 && !text.endsWith('\n')) return next();
        resolve(text);
      });
    next();
  });
}

function tooLong(path: PathLike): NodeJS.ErrnoException {
  return Object.assign(new Error(`${String(path)} goes on past ${MAX_ATTRIBUTE_BYTES} bytes without ending: not a 1-Wire attribute (a w1_slave is under 100 bytes)`), { code: 'EFBIG' });
}

/**
 * Write `text` in one write() call, without creating the file (sysfs attributes and OWFS
 * command files). Plain fds through the callback API, as for reads: a fs/promises FileHandle
 * costs several times more CPU, and a bus does this once per cycle.
 */
export function writeAttribute(path: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, constants.O_WRONLY, (err, fd) => {
      if (err) return reject(err);
      write(fd, text, (writeErr) => close(fd, (closeErr) => (writeErr ?? closeErr ? reject(writeErr ?? closeErr) : resolve())));
    });
  });
}
