import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import {
  deleteUser,
  hashPassword,
  parsePasswordFile,
  serializePasswordFile,
  setUserHash,
  userLine,
  userNameProblem,
  type PasswordFileLine,
} from '../broker/password-hash.js';
import { errText } from '../system/err-text.js';
import { UsageError, USAGE } from './usage.js';

/**
 * `w1mqtt passwd [-c] [-b] [-D] [-U] FILE USER [PASSWORD]`: mosquitto_passwd's arguments
 * and file format (see ../broker/password-hash.ts), so the bundled mosquitto reads the file
 * unchanged and either tool can edit it. Unlike mosquitto_passwd it replaces the file
 * atomically, and -U leaves passwords that are already hashed alone instead of hashing
 * the hash (mosquitto_passwd(1) warns that its -U makes such a file unusable).
 */

export const PASSWD_USAGE = 'w1mqtt passwd [-c] [-b] [-D] [-U] FILE USER [PASSWORD]';

export const CONFIG_MOVED =
  'passwd --config is gone: users no longer live in sensors.yaml but in a mosquitto password file, which the bundled broker (mosquitto) reads. ' +
  'Make one with `sudo w1mqtt passwd -c /etc/w1mqtt/passwd USER` (or mosquitto_passwd), then set broker.password_file: /etc/w1mqtt/passwd in sensors.yaml';

/** What the service must be able to read: it runs as user w1mqtt in group w1 (deploy/install.sh). */
const NEW_FILE_MODE = 0o640;
const SERVICE_GROUP = 'w1';
/** mosquitto_passwd's limit (MAX_BUFFER_LEN): longer passwords are refused, not cut. */
const MAX_PASSWORD_LENGTH = 65535;

export interface PasswdArgs {
  readonly create: boolean;
  readonly batch: boolean;
  readonly remove: boolean;
  readonly update: boolean;
  readonly file: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
}

/** Flags first, then positionals, as mosquitto_passwd reads them: a password may start with '-'. */
export function parsePasswdArgs(argv: readonly string[]): PasswdArgs {
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--config' || a.startsWith('--config='))) throw new UsageError(CONFIG_MOVED);
  const flags = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    if (!['-c', '-b', '-D', '-U'].includes(arg)) throw new UsageError(`passwd: unknown option ${arg} (${PASSWD_USAGE})`);
    flags.add(arg);
  }
  for (const [a, b] of [['-c', '-D'], ['-c', '-U'], ['-D', '-U'], ['-b', '-D'], ['-b', '-U']] as const) {
    if (flags.has(a) && flags.has(b)) throw new UsageError(`passwd: ${a} and ${b} cannot be used together`);
  }
  const [file, user, password] = argv.slice(i);
  const wanted = flags.has('-U') ? 1 : flags.has('-b') ? 3 : 2;
  if (file === undefined || argv.length - i !== wanted) {
    const form = flags.has('-U') ? 'FILE' : flags.has('-b') ? 'FILE USER PASSWORD' : 'FILE USER';
    throw new UsageError(`${['passwd', ...flags].join(' ')} needs ${form} (${PASSWD_USAGE})`);
  }
  if (user !== undefined) {
    const problem = userNameProblem(user);
    if (problem) throw new UsageError(`${problem}: ${JSON.stringify(user)}`);
  }
  return { create: flags.has('-c'), batch: flags.has('-b'), remove: flags.has('-D'), update: flags.has('-U'), file, user, password };
}

export async function passwdCommand(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const args = parsePasswdArgs(argv);
  // mosquitto_passwd edits the file a symlink points to; renaming over the link would replace it.
  const file = await realpath(args.file).catch(() => args.file);
  const before = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${args.file}: ${errText(err)}`, { cause: err });
  });
  const user = args.user ?? '';
  let lines: PasswordFileLine[];
  let done: string;
  if (args.create) {
    lines = [userLine(user, await hashPassword(await getPassword(args)))];
    done = `password of ${user} set in ${args.file}`;
  } else {
    if (before === undefined) throw new Error(`${args.file} does not exist (create it with: w1mqtt passwd -c ${args.file} USER)`);
    const current = parsePasswordFile(await readText(file));
    if (args.remove) {
      const result = deleteUser(current, user);
      if (!result.found) {
        process.stderr.write(`w1mqtt: ${user} is not in ${args.file}; not changed\n`);
        return 1;
      }
      lines = result.lines;
      done = `${user} removed from ${args.file}`;
    } else if (args.update) {
      const plain = current.filter((l) => l.entry && isPlainText(l.entry.field)).length;
      if (plain === 0) {
        process.stderr.write(`w1mqtt: every password in ${args.file} is hashed already; not changed\n`);
        return 0;
      }
      lines = await Promise.all(current.map(async (l) => (l.entry && isPlainText(l.entry.field) ? userLine(l.entry.user, await hashPassword(l.entry.field)) : l)));
      done = `${plain} plain-text password${plain === 1 ? '' : 's'} hashed in ${args.file}`;
    } else {
      lines = setUserHash(current, user, await hashPassword(await getPassword(args)));
      done = `password of ${user} set in ${args.file}`;
    }
  }
  await replaceFile(file, serializePasswordFile(lines), before);
  process.stderr.write(`w1mqtt: ${done}\nTo apply it: sudo systemctl reload w1mqtt (the agent passes SIGHUP on to its mosquitto, which re-reads the file)\n`);
  return 0;
}

/** Not even the start of a hash: one that is malformed is left for the broker to judge, never hashed again. */
function isPlainText(field: string): boolean {
  return !/^\$[67]\$/.test(field);
}

/** The text, refused rather than rewritten with replacement characters when it is not UTF-8. */
async function readText(file: string): Promise<string> {
  const raw = await readFile(file);
  const text = raw.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(raw)) throw new Error(`${file} is not UTF-8 text; not changed`);
  return text;
}

/**
 * Writes a temp file in the same directory and renames it over FILE, so mosquitto never
 * reads half a file. The temp file gets the original's owner, group and mode first (a
 * rename would otherwise leave root:root 0600 where the service needs to read).
 */
async function replaceFile(file: string, text: string, before: Stats | undefined): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  // 0600 until owner and mode are set, so no one else can read the hashes on the way.
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    const owner = before ? { uid: before.uid, gid: before.gid } : await newFileOwner();
    if (owner) {
      await handle.chown(owner.uid, owner.gid).catch((err: unknown) => {
        throw new Error(`cannot give ${file} back its owner ${owner.uid}:${owner.gid} (${errText(err)}): run as root or as its owner`, { cause: err });
      });
    }
    // After chown, which clears setuid/setgid bits; open()'s mode was cut by the umask.
    await handle.chmod(before ? before.mode & 0o7777 : NEW_FILE_MODE);
    await handle.sync();
    await handle.close();
    await rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // The rename itself survives a power cut only once the directory is on disk (SD cards).
  const dir = await open(dirname(file), 'r');
  await dir.sync().finally(() => dir.close());
}

/**
 * A new file made by root belongs to root and group w1 when that group exists: the service
 * runs as user w1mqtt in group w1 and must read the file, and 0640 keeps it from others.
 * Anyone else keeps their own uid and gid.
 */
async function newFileOwner(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const groups = await readFile('/etc/group', 'utf8').catch(() => '');
  const line = groups.split('\n').find((l) => l.startsWith(`${SERVICE_GROUP}:`));
  const gid = Number(line?.split(':')[2]);
  return line && Number.isInteger(gid) ? { uid: 0, gid } : undefined;
}

async function getPassword(args: PasswdArgs): Promise<string> {
  const password = args.batch ? (args.password ?? '') : await readPassword();
  if (password === '') throw new Error('empty password');
  if (password.length > MAX_PASSWORD_LENGTH) throw new Error(`a password must be shorter than ${MAX_PASSWORD_LENGTH + 1} characters`);
  return password;
}

/** Asked twice on a terminal, else the first line of stdin (what a script pipes in). */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
    try {
      for await (const line of rl) return line;
      return '';
    } finally {
      rl.close();
      // Only the first line is ours; a writer that keeps the pipe open must not hold the process.
      process.stdin.destroy();
    }
  }
  const first = await askHidden('Password: ');
  if (first === '') return '';
  const again = await askHidden('Reenter password: ');
  if (first !== again) throw new Error('the passwords do not match');
  return first;
}

/** A prompt whose answer is not echoed (readline writes to a sink instead of the terminal). */
async function askHidden(prompt: string): Promise<string> {
  process.stderr.write(prompt);
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const rl = createInterface({ input: process.stdin, output: sink, terminal: true });
  try {
    return await rl.question('');
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
