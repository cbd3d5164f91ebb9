import { pino, type Logger } from 'pino';

export interface LogEntry {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** A pino logger that keeps its lines in memory, so a test can find and count them. */
export function memoryLog(level = 'debug'): { log: Logger; entries: LogEntry[]; find(msg: string | RegExp): LogEntry[] } {
  const entries: LogEntry[] = [];
  const log = pino({ level }, { write: (line: string) => void entries.push(JSON.parse(line) as LogEntry) });
  const find = (msg: string | RegExp): LogEntry[] => entries.filter((e) => (typeof msg === 'string' ? e.msg === msg : msg.test(e.msg)));
  return { log, entries, find };
}
