import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly level?: string | undefined;
  /** Pretty, coloured lines; default: when stdout is a terminal. */
  readonly pretty?: boolean | undefined;
  /** Where JSON lines go (tests pass a memory stream); default stdout. */
  readonly destination?: DestinationStream | undefined;
}

/**
 * The one root logger. JSON lines to stdout (journald keeps them under systemd);
 * pretty lines when stdout is a terminal. Components take `log.child({ module })`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = (options.level ?? process.env['LOG_LEVEL'] ?? 'info') as LevelWithSilent;
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true && process.env['W1MQTT_LOG_FORMAT'] !== 'json');
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  const opts = { level, base: null, timestamp: pino.stdTimeFunctions.isoTime };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
