import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * mosquitto's password file, read and written the way mosquitto 2.0 does, so a file works
 * in either tool. Parameters from eclipse/mosquitto v2.0.11: src/password_mosq.h
 * (SALT_LEN 12, PW_DEFAULT_ITERATIONS 101, a 64-byte SHA-512 hash), src/password_mosq.c
 * pw__hash (`$7$`: PBKDF2-HMAC-SHA512; `$6$`: SHA-512 of password then salt),
 * apps/mosquitto_passwd/mosquitto_passwd.c output_new_password (the line
 * `user:$7$<iterations>$<salt b64>$<hash b64>`, base64 without line breaks) and
 * src/security_default.c (how the broker reads a line and which hashes it drops).
 */

export const SALT_BYTES = 12;
export const HASH_BYTES = 64;
export const DEFAULT_ITERATIONS = 101;

export type PasswordHash =
  | { readonly type: 'sha512-pbkdf2'; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly type: 'sha512'; readonly salt: Buffer; readonly hash: Buffer };

const pbkdf2Async = promisify(pbkdf2);
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new `$7$` hash. node:crypto's pbkdf2 runs on the libuv thread pool, off the main thread. */
export async function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): Promise<string> {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 2 ** 31 - 1) throw new RangeError(`iterations must be a whole number from 1 to 2^31-1, not ${iterations}`);
  // The broker hashes the CONNECT password up to its first NUL (strlen), so one with a NUL could never match.
  if (password.includes('\0')) throw new RangeError('a password cannot contain a NUL character');
  const salt = randomBytes(SALT_BYTES);
  const hash = await pbkdf2Async(password, salt, iterations, HASH_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** The parts of a `$7$` or `$6$` hash, or undefined when mosquitto would drop the entry (wrong salt or hash length). */
export function parseHash(encoded: string): PasswordHash | undefined {
  const parts = encoded.split('$');
  if (parts[0] !== '') return undefined;
  if (parts[1] === '7' && parts.length === 5) {
    if (!/^[0-9]{1,10}$/.test(parts[2] ?? '')) return undefined;
    const iterations = Number(parts[2]);
    const salt = decode(parts[3], SALT_BYTES);
    const hash = decode(parts[4], HASH_BYTES);
    if (iterations < 1 || iterations > 2 ** 31 - 1 || !salt || !hash) return undefined;
    return { type: 'sha512-pbkdf2', iterations, salt, hash };
  }
  if (parts[1] === '6' && parts.length === 4) {
    const salt = decode(parts[2], SALT_BYTES);
    const hash = decode(parts[3], HASH_BYTES);
    return salt && hash ? { type: 'sha512', salt, hash } : undefined;
  }
  return undefined;
}

/** Whether the password matches; false for a malformed hash. The comparison takes the same time wherever the bytes differ. */
export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed || password.includes('\0')) return false;
  const actual =
    parsed.type === 'sha512'
      ? createHash('sha512').update(password).update(parsed.salt).digest()
      : await pbkdf2Async(password, parsed.salt, parsed.iterations, HASH_BYTES, 'sha512');
  return timingSafeEqual(actual, parsed.hash);
}

/** Canonical base64 of exactly `bytes` bytes (what mosquitto_passwd writes), else undefined. */
function decode(text: string | undefined, bytes: number): Buffer | undefined {
  if (text === undefined || !B64.test(text)) return undefined;
  const buf = Buffer.from(text, 'base64');
  return buf.length === bytes && buf.toString('base64') === text ? buf : undefined;
}

/** A user name mosquitto_passwd accepts (is_username_valid): no ':', no control characters, under 65536 bytes. */
export function userNameProblem(user: string): string | undefined {
  if (user === '') return 'a user name cannot be empty';
  if (Buffer.byteLength(user) > 65535) return 'a user name must be shorter than 65536 bytes';
  // C's iscntrl(): 0x00-0x1f and 0x7f.
  if (/[\x00-\x1f\x7f]/.test(user)) return 'a user name cannot contain control characters';
  if (user.includes(':')) return "a user name cannot contain ':'";
  // The broker trims blanks around the name it reads, so such a name could never log in.
  if (user.startsWith(' ') || user.endsWith(' ')) return 'a user name cannot start or end with a space';
  return undefined;
}

/** One line of a password file: its text, kept byte for byte unless the line is changed, and the entry the broker reads from it. */
export interface PasswordFileLine {
  readonly text: string;
  /** `field` is the text after the user name: a hash, or a plain-text password before `-U`. */
  readonly entry: { readonly user: string; readonly field: string } | undefined;
}

/**
 * The user and second field of a line as the broker reads them (security_default.c
 * pwfile__parse): lines starting with '#' or without ':' are skipped; the fields are split
 * with strtok(":"), so empty fields are skipped too, and blanks around each are trimmed.
 */
export function splitPasswordLine(line: string): PasswordFileLine['entry'] {
  if (line.startsWith('#') || !line.includes(':')) return undefined;
  const [user = '', field = ''] = line
    .split(':')
    .filter((token) => token !== '')
    .map(trimBlanks);
  return user === '' || field === '' ? undefined : { user, field };
}

/** A `user:hash` line whose hash mosquitto accepts, else undefined. */
export function parsePasswordLine(line: string): { user: string; hash: string } | undefined {
  const entry = splitPasswordLine(line);
  return entry && parseHash(entry.field) ? { user: entry.user, hash: entry.field } : undefined;
}

export function parsePasswordFile(text: string): PasswordFileLine[] {
  const texts = text.split('\n');
  if (texts.at(-1) === '') texts.pop();
  return texts.map((t) => ({ text: t, entry: splitPasswordLine(t) }));
}

export function serializePasswordFile(lines: readonly PasswordFileLine[]): string {
  return lines.map((l) => `${l.text}\n`).join('');
}

export function userLine(user: string, hash: string): PasswordFileLine {
  return { text: `${user}:${hash}`, entry: { user, field: hash } };
}

/** The hash the file holds for the user (the first line naming them), else undefined. */
export function findUserHash(lines: readonly PasswordFileLine[], user: string): string | undefined {
  return lines.find((l) => l.entry?.user === user)?.entry?.field;
}

/**
 * The file with the user's hash set: the first line naming the user is replaced in place,
 * any later one is dropped (one user, one password), and a new user is appended.
 */
export function setUserHash(lines: readonly PasswordFileLine[], user: string, hash: string): PasswordFileLine[] {
  const at = lines.findIndex((l) => l.entry?.user === user);
  if (at < 0) return [...lines, userLine(user, hash)];
  return lines.flatMap((l, i) => (i === at ? [userLine(user, hash)] : l.entry?.user === user ? [] : [l]));
}

/** The file without the user's lines, and whether there were any. */
export function deleteUser(lines: readonly PasswordFileLine[], user: string): { lines: PasswordFileLine[]; found: boolean } {
  const kept = lines.filter((l) => l.entry?.user !== user);
  return { lines: kept, found: kept.length !== lines.length };
}

/** C's isspace() in the C locale, which misc__trimblanks uses (not JavaScript's wider trim()). */
function trimBlanks(text: string): string {
  return text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
}
