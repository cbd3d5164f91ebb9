import { fstatSync } from 'node:fs';

/**
 * Log lines for the systemd journal: one readable line per record, led by its sd-daemon(3)
 * priority prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug). journald strips the
 * prefix and files the line at that priority, so `journalctl -u w1mqtt -p warning` filters,
 * and adds the time, host and PID itself, so the line carries none of them.
 *
 *   <4>sensors: sensor fault: CRC mismatch (crc=c9) sensor=28-0000072d3e08 code=crc_mismatch
 */

/** pino's numeric level → syslog priority (sd-daemon.h: SD_CRIT 2, SD_ERR 3, SD_WARNING 4, SD_INFO 6, SD_DEBUG 7). */
export function journalPriority(level: number): number {
  if (level >= 60) return 2; // fatal
  if (level >= 50) return 3; // error
  if (level >= 40) return 4; // warn
  if (level >= 30) return 6; // info
  return 7; // debug, trace
}

/** Fields that the journal records itself, or that the line already shows. */
const SKIP = new Set(['level', 'time', 'msg', 'module', 'pid', 'hostname']);

/** One pino JSON line → one journal line (with its trailing newline). Not JSON: passed on as info. */
export function journalLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return `<6>${json.trimEnd().replaceAll('\n', ' ')}\n`;
  }
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const module = typeof record['module'] === 'string' ? `${record['module']}: ` : '';
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  const fields = Object.entries(record)
    .filter(([key, value]) => !SKIP.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldText(key, value)}`);
  const text = [`${module}${msg}`, ...fields].filter((part) => part !== '').join(' ');
  // One record, one journal entry: a newline inside a value would start an entry without a prefix.
  return `<${journalPriority(level)}>${text.replaceAll('\n', '\\n')}\n`;
}

function fieldText(key: string, value: unknown): string {
  // pino's error serializer: { type, message, stack }; the stack is in the JSON form.
  if ((key === 'err' || key === 'error') && isSerializedError(value)) return quoted(value.message);
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}

function isSerializedError(value: unknown): value is { message: string; stack: string } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string' && typeof (value as { stack?: unknown }).stack === 'string';
}

/** A bare word when that reads unambiguously, else a JSON string. */
function quoted(text: string): string {
  return text !== '' && /^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * stdout is the journal: systemd sets JOURNAL_STREAM to the `device:inode` of the stream it
 * connected, and a child that inherited the variable but writes elsewhere (a pipe, a file)
 * must not take it for the journal (systemd.exec(5), "$JOURNAL_STREAM").
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const stream = env['JOURNAL_STREAM'];
  if (!stream) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** What leads a line written straight to stderr for an error: `<3>` when stderr is the journal. */
export function stderrErrorPrefix(env: NodeJS.ProcessEnv = process.env): string {
  return stdoutIsJournal(env, 2) ? '<3>' : '';
}
