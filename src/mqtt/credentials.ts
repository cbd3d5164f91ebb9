import type { MqttConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';
import { MAX_TLS_FILE_BYTES, readSmallFile } from '../system/small-file.js';

/**
 * What the client proves itself with: the password (written in sensors.yaml, or kept in
 * mqtt.password_file so that the config can be world-readable) and the TLS files. Read
 * once per start, so a fixed file is picked up by a restart or a live reload.
 */
export interface Credentials {
  readonly password?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface CredentialSources {
  readonly url: string;
  readonly mqtt: MqttConfig;
  /** The URL as logs show it (no password). */
  readonly shownUrl: string;
  readonly log: Logger;
  readonly readFile?: ((path: string) => Promise<string>) | undefined;
}

/** Throws, naming the setting and the file, when a file named in mqtt: cannot be read. */
export async function readCredentials(s: CredentialSources): Promise<Credentials> {
  const password = await readPassword(s);
  return { ...(password === undefined ? {} : { password }), ...(await readTls(s)) };
}

async function readPassword(s: CredentialSources): Promise<string | undefined> {
  const { password, password_file: file } = s.mqtt;
  if (file === undefined) return password;
  const trimmed = (await read(s, file, 'mqtt.password_file')).trim();
  if (trimmed === '') throw new Error(`mqtt.password_file ${file} is empty`);
  return trimmed;
}

async function readTls(s: CredentialSources): Promise<Pick<Credentials, 'ca' | 'cert' | 'key'>> {
  const { ca_file, cert_file, key_file } = s.mqtt;
  const files = { ca: ca_file, cert: cert_file, key: key_file };
  const given = Object.entries(files).filter((e): e is [string, string] => e[1] !== undefined);
  if (given.length === 0) return {};
  if (!/^(mqtts|ssl|wss|tls):/i.test(s.url)) {
    s.log.warn({ url: s.shownUrl }, 'mqtt.ca_file/cert_file/key_file are ignored: the url is not mqtts://');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, file] of given) out[key] = await read(s, file, `mqtt.${key}_file`);
  return out;
}

async function read(s: CredentialSources, file: string, what: string): Promise<string> {
  // Regular files only, of a size such files have (a CA bundle is ~200 kB): a FIFO would hang the connect.
  const readFile = s.readFile ?? (async (p: string) => (await readSmallFile(p, MAX_TLS_FILE_BYTES)).text);
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${errText(err)}`, { cause: err });
  }
}
