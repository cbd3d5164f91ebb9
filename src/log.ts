import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { journalLine, stdoutIsJournal } from './log-journal.js';

export type { Logger };

/** json: one JSON object a line; journal: `<6>module: message key=value` (log-journal.ts); pretty: coloured, for a terminal. */
export type LogFormat = 'json' | 'journal' | 'pretty';

export interface LoggerOptions {
  readonly level?: string | undefined;
  /** Default: logFormat() (W1MQTT_LOG_FORMAT, else a terminal, the journal, or JSON). */
  readonly format?: LogFormat | undefined;
  /** Where the lines go (tests pass a memory stream); default stdout. */
  readonly destination?: DestinationStream | undefined;
}

/**
 * The format by where stdout goes: W1MQTT_LOG_FORMAT=json|journal|pretty wins; else pretty on a
 * terminal, journal lines under systemd (stdout is the stream JOURNAL_STREAM names), JSON otherwise.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const asked = env['W1MQTT_LOG_FORMAT'];
  if (asked === 'json' || asked === 'journal' || asked === 'pretty') return asked;
  if (process.stdout.isTTY === true) return 'pretty';
  return stdoutIsJournal(env) ? 'journal' : 'json';
}

/** The one root logger. Components take `log.child({ module })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = (options.level ?? process.env['LOG_LEVEL'] ?? 'info') as LevelWithSilent;
  const format = options.format ?? (options.destination === undefined ? logFormat() : 'json');
  if (format === 'pretty') {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  const opts = { level, base: null, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'journal') {
    const out = options.destination ?? pino.destination({ dest: 1, sync: true });
    return pino(opts, { write: (line: string) => void out.write(journalLine(line)) });
  }
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
