import type { Logger } from '../log.js';
import { isAuthRefusal, isProtocolRefusal, type ErrorCode, type ProtocolLevel } from './connack.js';

/**
 * The connection's story in the log, told once per outage: MQTT.js retries every few
 * seconds for as long as a broker is away, and a warning per retry would bury everything
 * else in the journal. The first failure is a warning (an error if the broker refused the
 * credentials: retrying will not fix those), later retries are debug lines, and the
 * reconnect says how long the outage lasted.
 */
export class OutageLog {
  readonly #log: Logger;
  /** The broker URL without its password. */
  readonly #url: string;
  readonly #username: string | undefined;
  readonly #now: () => number;
  #everConnected = false;
  #outageSince: number | undefined;
  #outageLogged = false;
  #authLogged = false;

  constructor(log: Logger, url: string, username: string | undefined, now: () => number) {
    this.#log = log;
    this.#url = url;
    this.#username = username;
    this.#now = now;
  }

  connected(clientId: string, protocol: ProtocolLevel, sessionPresent: boolean): void {
    const outageMs = this.#outageSince === undefined ? undefined : this.#now() - this.#outageSince;
    this.#log.info(
      { url: this.#url, clientId, protocol, sessionPresent, ...(outageMs === undefined ? {} : { outageMs }) },
      this.#everConnected ? 'reconnected' : 'connected',
    );
    this.#everConnected = true;
    this.#outageSince = undefined;
    this.#outageLogged = false;
    this.#authLogged = false;
  }

  /** A connection closed, or an attempt failed, with `err` (if MQTT.js reported one); the next try is in `nextRetryMs`. */
  closed(err: Error | undefined, code: ErrorCode, level: ProtocolLevel, wasUp: boolean, nextRetryMs: number): void {
    this.#outageSince ??= this.#now();
    if (isAuthRefusal(level, code) && !this.#authLogged) {
      this.#authLogged = this.#outageLogged = true;
      const reason = err?.message.replace(/^Connection refused: /, '');
      this.#log.error(
        { url: this.#url, username: this.#username, reason, returnCode: code, nextRetryMs },
        `authentication failed: ${reason ?? 'refused'} (check mqtt.username and mqtt.password_file)`,
      );
    } else if (!this.#outageLogged) {
      this.#outageLogged = true;
      // `protocol: 5` set by hand and a broker that refuses it: say what would help.
      const hint = level === 5 && isProtocolRefusal(code) ? { hint: 'the broker does not speak MQTT 5: set mqtt.protocol: auto or 4' } : {};
      this.#log.warn(
        { url: this.#url, err: err?.message ?? 'connection closed by the broker', code, nextRetryMs, ...hint },
        wasUp ? 'connection lost' : 'connection failed',
      );
    } else {
      this.#log.debug({ err: err?.message, code, nextRetryMs }, 'retry failed');
    }
  }
}
