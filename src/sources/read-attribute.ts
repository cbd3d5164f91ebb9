import { constants, type FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

const CHUNK = 4096;

/**
 * Read a sysfs-style attribute with as few thread-pool trips as possible: open, one read
 * of a page, close. A sysfs show() hands its whole text (≤ PAGE_SIZE) to the first read,
 * so the usual readFile (open, fstat, read, read-to-EOF, close) costs two extra trips per
 * sensor. Text that does not end in a newline is read on to EOF, as readFile would.
 * The close is not waited for: the reading is complete once read() returns.
 */
export async function readAttribute(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY);
  let done = false;
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await fh.read(buffer, 0, CHUNK, null);
    let text = buffer.toString('latin1', 0, bytesRead);
    if (bytesRead > 0 && !text.endsWith('\n')) text += await readRest(fh);
    done = true;
    void fh.close().catch(() => {});
    return text;
  } finally {
    if (!done) await fh.close().catch(() => {});
  }
}

async function readRest(fh: FileHandle): Promise<string> {
  let text = '';
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    const { bytesRead } = await fh.read(buffer, 0, CHUNK, null);
    if (bytesRead === 0) return text;
    text += buffer.toString('latin1', 0, bytesRead);
  }
}

/** Write `text` in one write() call, without creating the file (sysfs attributes and OWFS command files). */
export async function writeAttribute(path: string, text: string): Promise<void> {
  const fh = await open(path, constants.O_WRONLY);
  try {
    await fh.write(text);
  } finally {
    await fh.close();
  }
}
