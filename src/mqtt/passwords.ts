import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes for the bundled broker's users, in the `$scrypt$N$r$p$salt$hash`
 * form (salt and hash in base64): the modular-crypt style of `/etc/shadow` and
 * mosquitto_passwd's `$7$`, with scrypt from node:crypto (RFC 7914) so no native
 * dependency is needed. `w1mqtt passwd` writes them; sensors.yaml keeps them.
 */

export interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** RFC 7914's recommendation for interactive logins: N = 2^14, r = 8, p = 1 (16 MiB, tens of ms on a Pi 4). */
export const DEFAULT_SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const B64 = '[A-Za-z0-9+/]+={0,2}';
const FORMAT = new RegExp(`^\\$scrypt\\$(\\d+)\\$(\\d+)\\$(\\d+)\\$(${B64})\\$(${B64})$`);

/** The parts of a hash, or undefined when it is not one (or its cost is outside what a Pi can afford). */
export function parseScryptHash(text: string): ScryptHash | undefined {
  const m = FORMAT.exec(text.trim());
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N must be a power of two (RFC 7914 section 2); the bounds keep one check under ~128 MiB.
  if (!Number.isSafeInteger(N) || N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0) return undefined;
  if (r < 1 || r > 32 || p < 1 || p > 16 || 128 * N * r > 128 * 2 ** 20) return undefined;
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const hash = Buffer.from(m[5] ?? '', 'base64');
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { N, r, p, salt, hash };
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scrypt(password, salt, HASH_BYTES, params);
  return `$scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Constant-time comparison of the derived key; false for a malformed hash. */
export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  const parsed = parseScryptHash(encoded);
  if (!parsed) return false;
  const derived = await scrypt(password, parsed.salt, parsed.hash.length, parsed);
  return timingSafeEqual(derived, parsed.hash);
}

function scrypt(password: string, salt: Buffer, length: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // Node refuses keys needing more than `maxmem` (32 MiB by default); allow what the parameters need.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}
