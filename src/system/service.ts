import type { Logger } from '../log.js';
import { systemClock, type Clock } from './clock.js';
import { watchdogIntervalMs, type SdNotify } from './sd-notify.js';
import { statusLine } from './status-line.js';

/** The read in flight longest: the watchdog's liveness signal (sampling/in-flight.ts). */
export interface InFlightRead {
  readonly bus: string;
  readonly sensor: string;
  /** Clock time the read started. */
  readonly since: number;
}

/** What the systemd side needs to know about the agent (the Agent class fits). */
export interface ServiceAgent {
  sensors(): readonly { readonly displayId: string }[];
  readonly faults: { health(sensor: string): { readonly fault?: unknown } };
  busStats(): readonly { readonly lastCycleMs: number | undefined }[];
  readonly connected: boolean;
  oldestRead(): InFlightRead | undefined;
}

export interface ServiceOptions {
  readonly notify: SdNotify;
  readonly agent: ServiceAgent;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How often STATUS= is refreshed (sent only when the text changed). @default 5000 */
  readonly statusEveryMs?: number;
  /** How often the connection is checked until READY=1 is sent. @default 200 */
  readonly readyPollMs?: number;
}

/**
 * Type=notify for the agent: READY=1 once the first MQTT connection is up (the
 * bundled broker listens before the client connects), STATUS= lines, RELOADING=1
 * around a reload, STOPPING=1 on shutdown, and WATCHDOG=1 every WATCHDOG_USEC/2,
 * withheld while a read has been stuck for longer than that: a hung reader then
 * lets systemd's watchdog restart the service instead of being papered over.
 */
export class ServiceNotifier {
  readonly #o: ServiceOptions;
  readonly #clock: Clock;
  /** Ends the periodic work (pings, STATUS, the wait for READY) at stopping(). */
  readonly #stop = new AbortController();
  #ready = false;
  #stopped = false;
  #stuckLogged = false;
  #lastStatus = '';
  #configError: string | undefined;

  constructor(options: ServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  get ready(): boolean {
    return this.#ready;
  }

  start(): void {
    // `fn` runs every `ms` until stopping(), or until it returns true.
    const every = (ms: number, fn: () => boolean | void): void => {
      const { signal } = this.#stop;
      void (async () => {
        while (!signal.aborted) {
          await this.#clock.sleep(ms, signal);
          if (signal.aborted || fn() === true) return;
        }
      })();
    };
    const watchdogMs = watchdogIntervalMs(this.#o.env ?? process.env);
    if (watchdogMs !== undefined) {
      this.#o.log.info({ intervalMs: watchdogMs }, 'feeding the systemd watchdog');
      every(watchdogMs, () => void this.#watchdog(watchdogMs));
    }
    every(this.#o.statusEveryMs ?? 5_000, () => void this.#status());
    if (!this.#checkReady()) {
      void this.#o.notify.send({ STATUS: 'starting: waiting for the MQTT broker' });
      every(this.#o.readyPollMs ?? 200, () => this.#checkReady());
    }
  }

  /** Between reloading() and reloaded() systemd shows the unit as "reloading". */
  reloading(): Promise<void> {
    // MONOTONIC_USEC: CLOCK_MONOTONIC, which process.hrtime reads on Linux; Type=notify-reload (systemd 253+) asks for it.
    return this.#o.notify.send({ RELOADING: 1, MONOTONIC_USEC: String(process.hrtime.bigint() / 1000n), STATUS: 'reloading sensors.yaml' });
  }

  reloaded(configError: string | undefined): Promise<void> {
    this.#configError = configError;
    this.#lastStatus = this.#statusText();
    return this.#o.notify.send({ ...(this.#ready ? { READY: 1 } : {}), STATUS: this.#lastStatus });
  }

  /** STOPPING=1 and no more pings: the agent is going away on purpose. */
  stopping(): Promise<void> {
    this.#stopped = true;
    this.#stop.abort();
    return this.#o.notify.send({ STOPPING: 1, STATUS: 'stopping' });
  }

  #checkReady(): boolean {
    if (this.#ready || this.#stopped) return true;
    if (!this.#o.agent.connected) return false;
    this.#ready = true;
    this.#lastStatus = this.#statusText();
    this.#o.log.info({ status: this.#lastStatus }, 'ready: told systemd');
    void this.#o.notify.send({ READY: 1, STATUS: this.#lastStatus });
    return true;
  }

  async #watchdog(limitMs: number): Promise<void> {
    const stuck = this.#stuck(limitMs);
    if (stuck) {
      if (!this.#stuckLogged) {
        this.#o.log.error({ ...stuck, limitMs }, 'a read has not returned: no longer feeding the systemd watchdog, so systemd can restart w1mqtt');
        this.#stuckLogged = true;
        await this.#status();
      }
      return;
    }
    if (this.#stuckLogged) this.#o.log.info('the stuck read returned: feeding the systemd watchdog again');
    this.#stuckLogged = false;
    await this.#o.notify.send({ WATCHDOG: 1 });
  }

  #stuck(limitMs: number): { sensor: string; bus: string; forMs: number } | undefined {
    const read = this.#o.agent.oldestRead();
    const forMs = read ? this.#clock.now() - read.since : 0;
    return read && forMs > limitMs ? { sensor: read.sensor, bus: read.bus, forMs } : undefined;
  }

  async #status(): Promise<void> {
    if (!this.#ready || this.#stopped) return;
    const text = this.#statusText();
    if (text === this.#lastStatus) return;
    this.#lastStatus = text;
    await this.#o.notify.send({ STATUS: text });
  }

  #statusText(): string {
    const { agent } = this.#o;
    const sensors = agent.sensors();
    const cycles = agent.busStats().flatMap((b) => (b.lastCycleMs === undefined ? [] : [b.lastCycleMs]));
    const watchdogMs = watchdogIntervalMs(this.#o.env ?? process.env);
    return statusLine({
      sensors: sensors.length,
      failing: sensors.filter((s) => agent.faults.health(s.displayId).fault !== undefined).length,
      lastCycleMs: cycles.length > 0 ? Math.max(...cycles) : undefined,
      connected: agent.connected,
      stuck: this.#stuck(watchdogMs ?? 60_000),
      configError: this.#configError,
    });
  }
}
