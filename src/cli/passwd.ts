import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { isMap, parseDocument } from 'yaml';
import { formatProblem, parseConfigText } from '../config/load.js';
import { hashPassword } from '../mqtt/passwords.js';
import { UsageError } from './usage.js';

/**
 * `w1mqtt passwd [--config FILE] USER`: what mosquitto_passwd is for mosquitto. Reads
 * the password (asked twice on a terminal, else the first line of stdin), hashes it
 * with scrypt, and writes it to `broker.users.USER.password` in FILE (keeping the
 * file's comments and layout), or prints the YAML to paste when no FILE is given.
 */
export async function passwdCommand(args: { config?: string | undefined; user?: string | undefined }): Promise<number> {
  const user = args.user;
  if (user === undefined || user.trim() === '') throw new UsageError('passwd needs a user name: w1mqtt passwd [--config FILE] USER');
  if (user.includes(':') || /\s/.test(user)) throw new UsageError(`a user name cannot contain ':' or spaces: ${JSON.stringify(user)}`);
  const password = await readPassword();
  const hash = await hashPassword(password);
  if (args.config === undefined) {
    process.stdout.write(`broker:\n  users:\n    ${JSON.stringify(user)}:\n      password: ${JSON.stringify(hash)}\n`);
    return 0;
  }
  return writeHash(args.config, user, hash);
}

async function writeHash(file: string, user: string, hash: string): Promise<number> {
  let text = '';
  let mode = 0o600;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0) throw new Error(`${file} is not valid YAML (${doc.errors[0]?.message.split('\n')[0]}): fix it first (w1mqtt check)`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new Error(`${file} does not hold a mapping`);
  doc.setIn(['broker', 'users', user, 'password'], hash);
  const next = doc.toString();
  const checked = parseConfigText(next, file);
  if (!checked.ok) {
    // Never write a file the agent would refuse; say what else is wrong in it.
    for (const p of checked.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`w1mqtt: ${file} not changed: fix the problems above first\n`);
    return 1;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, next, { mode });
  await rename(tmp, file);
  process.stderr.write(`w1mqtt: password of ${user} set in ${file} (restart or reload the agent to use it)\n`);
  return 0;
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new Error('no password on stdin (give it as the first line)');
    return line;
  }
  const first = await askHidden('Password: ');
  if (first === '') throw new Error('the password cannot be empty');
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
