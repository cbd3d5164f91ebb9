import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Files a user names in sensors.yaml (the config itself, password files): read only when
 * they are regular files of a sensible size. A FIFO opened for reading blocks until a writer
 * comes, and `/dev/zero` never ends, so each would hang or swell the agent; O_NONBLOCK makes
 * the open return at once whatever the file is (open(2): "O_NONBLOCK … on a FIFO"), and the
 * fstat that follows refuses what is not a regular file before a single byte is read.
 */

/** A password file holds a line, mosquitto's a line per user: 64 KiB is hundreds of users. */
export const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/** Certificates, keys, CA bundles (Debian's ca-certificates.crt is ~220 kB). */
export const MAX_TLS_FILE_BYTES = 4 * 1024 * 1024;

export class SmallFileError extends Error {
  readonly code: 'ENOTREG' | 'EFBIG';
  constructor(code: 'ENOTREG' | 'EFBIG', message: string) {
    super(message);
    this.code = code;
  }
}

export interface SmallFile {
  readonly text: string;
  readonly stats: Stats;
}

/** The file's text, or a SmallFileError (not a regular file, larger than `maxBytes`) or the open's own error. */
export async function readSmallFile(path: string, maxBytes: number): Promise<SmallFile> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stats = await fh.stat();
    refuseOdd(stats, maxBytes);
    // Read one byte past the limit: a file that grew since the fstat is refused the same way.
    const buffer = Buffer.alloc(Math.min(stats.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) {
        if (length > maxBytes) throw tooBig(length, maxBytes, true);
        break;
      }
    }
    return { text: buffer.toString('utf8', 0, length), stats };
  } finally {
    await fh.close();
  }
}

/** What `readSmallFile` refuses, without reading: for files another program (mosquitto) reads. */
export async function checkSmallFile(path: string, maxBytes: number): Promise<Stats> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stats = await fh.stat();
    refuseOdd(stats, maxBytes);
    return stats;
  } finally {
    await fh.close();
  }
}

/** Group- or world-writable: anyone in that group (or anyone) could put a password of their own in it. */
export function writableByOthers(stats: Stats): 'group' | 'world' | undefined {
  return stats.mode & 0o002 ? 'world' : stats.mode & 0o020 ? 'group' : undefined;
}

/** `50.0 MiB`, `256 KiB`: sizes as people read them. */
export function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function refuseOdd(stats: Stats, maxBytes: number): void {
  if (!stats.isFile()) throw new SmallFileError('ENOTREG', `not a regular file (${kindOf(stats)})`);
  if (stats.size > maxBytes) throw tooBig(stats.size, maxBytes, false);
}

function tooBig(size: number, maxBytes: number, atLeast: boolean): SmallFileError {
  const exact = size >= 1024 ? ` (${size} bytes)` : '';
  return new SmallFileError('EFBIG', `the file is ${atLeast ? 'over ' : ''}${sizeText(size)}${exact}, more than the ${sizeText(maxBytes)} it may be`);
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  return 'not a plain file';
}
