import { isLoopbackHost, listenAddress } from '../config/loopback.js';
import type { Logger } from '../log.js';
import { parseDeviceId } from '../onewire/ids.js';
import type { Route } from '../mqtt/route.js';
import type { ReadError } from '../readings/read-result.js';
import type { Reading } from '../readings/reading.js';
import { errText } from '../system/err-text.js';
import { MAX_PASSWORD_FILE_BYTES, readSmallFile, writableByOthers } from '../system/small-file.js';
import { resolveStateDir } from '../system/state-dir.js';
import { EpisodeLog } from '../system/episode-log.js';
import { AccessControl } from './access.js';
import { EventHub } from './events.js';
import { historyPath, loadHistoryFile, saveHistoryFile } from './history-file.js';
import { History } from './history.js';
import { WebServer, type WebApi } from './server.js';
import { LiveState, type AgentView } from './state.js';
import { loadAssets } from './static.js';

/** The agent's events the page follows (agent/events.ts): readings already calibrated, fault state already updated. */
export interface PageEvents {
  reading: [reading: Reading, route: Route];
  failure: [error: ReadError, route: Route, at: number];
  plan: [routes: readonly Route[]];
}

type Listener<K extends keyof PageEvents> = (...args: PageEvents[K]) => void;

/** Of the agent's event emitter, what the page uses. */
export interface PageEventSource {
  on(event: 'reading', listener: Listener<'reading'>): unknown;
  on(event: 'failure', listener: Listener<'failure'>): unknown;
  on(event: 'plan', listener: Listener<'plan'>): unknown;
  off(event: 'reading', listener: Listener<'reading'>): unknown;
  off(event: 'failure', listener: Listener<'failure'>): unknown;
  off(event: 'plan', listener: Listener<'plan'>): unknown;
}

export interface LivePageOptions {
  readonly agent: AgentView & { readonly events: PageEventSource };
  readonly log: Logger;
  readonly now?: () => number;
  /** Take a free port when web.port is taken (the demo). */
  readonly fallbackToFreePort?: boolean;
  /** How often, while a page is open, broker and bus state are compared and, when changed, pushed. @default 2 s */
  readonly statusEveryMs?: number;
}

/**
 * The live page: history + view model + HTTP/SSE server, fed by the agent's events.
 * start() loads the saved history and listens; stop() closes and saves the history
 * once. The agent works the same with or without it: a page that cannot start is
 * logged and left out.
 */
export class LivePage {
  readonly #o: LivePageOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #history = new History();
  readonly #state: LiveState;
  readonly #hub: EventHub;
  #server: WebServer | undefined;
  #file: string | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #lastStatus = '';
  #started = false;
  #stopping: Promise<void> | undefined;

  constructor(options: LivePageOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#state = new LiveState(options.agent, this.#history);
    const episodes = new EpisodeLog({ log: this.#log });
    this.#hub = new EventHub({
      onDrop: (reason, bufferedBytes) =>
        episodes.report('web_slow_client', `web page: dropping event streams that do not read (${reason === 'buffer' ? 'their buffer is full' : 'stalled'}); their pages reconnect`, { reason, bufferedBytes }),
      onClients: (count) => this.#watchStatus(count > 0),
    });
  }

  get url(): string | undefined {
    return this.#server?.url;
  }

  async start(): Promise<void> {
    const { agent } = this.#o;
    const web = agent.config.web;
    this.#file = historyPath(await resolveStateDir({ configured: agent.config.state_dir }));
    await this.#load(this.#file);
    agent.events.on('reading', this.#onReading);
    agent.events.on('failure', this.#onFailure);
    agent.events.on('plan', this.#onPlan);
    this.#started = true;

    let password: string | undefined;
    if (web.password_file !== undefined) {
      try {
        // A regular file of a few kB, never a FIFO or a device: those would hold up the agent's start.
        const file = await readSmallFile(web.password_file, MAX_PASSWORD_FILE_BYTES);
        password = file.text.split('\n')[0]?.trim();
        if (!password) throw new Error('the file is empty');
        const others = writableByOthers(file.stats);
        if (others) this.#log.warn({ file: web.password_file, mode: (file.stats.mode & 0o777).toString(8) }, `web.password_file ${web.password_file} is ${others}-writable: anyone who can write it can set the page's password (sudo chmod 0640 ${web.password_file})`);
      } catch (err) {
        this.#log.error({ file: web.password_file, err: errText(err) }, `web page not available: cannot read web.password_file ${web.password_file}; the agent goes on publishing without it`);
        return;
      }
    }
    let assets: Awaited<ReturnType<typeof loadAssets>>;
    try {
      assets = await loadAssets();
    } catch (err) {
      this.#log.error({ err: errText(err) }, 'web page not available: its files cannot be read (a broken install?)');
      return;
    }
    const access = new AccessControl({ username: web.username, password, anyHost: !isLoopbackHost(web.host) });
    const server = new WebServer({
      host: listenAddress(web.host),
      port: web.port,
      log: this.#log,
      access,
      assets,
      api: this.#api(),
      hub: this.#hub,
      fallbackToFreePort: this.#o.fallbackToFreePort ?? false,
    });
    if (!(await server.start())) return;
    this.#server = server;
  }

  /**
   * Broker and bus state are compared every 2 s while a page is open, and not at all while
   * none is: a page that opens gets them in its snapshot, and an idle agent's event loop
   * does not wake for nobody.
   */
  #watchStatus(on: boolean): void {
    if (on && this.#statusTimer === undefined && !this.#stopping) {
      this.#statusTimer = setInterval(() => this.#pushStatus(), this.#o.statusEveryMs ?? 2_000).unref();
    } else if (!on) {
      clearInterval(this.#statusTimer);
      this.#statusTimer = undefined;
      this.#lastStatus = '';
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    clearInterval(this.#statusTimer);
    this.#o.agent.events.off('reading', this.#onReading);
    this.#o.agent.events.off('failure', this.#onFailure);
    this.#o.agent.events.off('plan', this.#onPlan);
    await this.#server?.stop();
    if (this.#started && this.#file) await this.#save(this.#file);
  }

  readonly #onReading = (reading: Reading, route: Route): void => this.#point(route, reading.at, reading.value);

  /** A failed read is a gap in the chart; the sensor's view shows its fault. */
  readonly #onFailure = (_error: ReadError, route: Route, at: number): void => this.#point(route, at, null);

  #point(route: Route, at: number, value: number | null): void {
    this.#state.record(route, at, value);
    // No open page, no event: building the sensor's view for nobody cost more than recording the point.
    if (this.#hub.size === 0) return;
    const now = this.#now();
    this.#hub.send('sensor', { now, sensor: this.#state.sensor(route, now), point: [at, value] });
  }

  readonly #onPlan = (): void => {
    if (this.#hub.size > 0) this.#hub.send('snapshot', this.#snapshot());
  };

  #pushStatus(): void {
    const status = this.#state.status(this.#now());
    const key = JSON.stringify({ ...status, now: 0 });
    if (key === this.#lastStatus) return;
    this.#lastStatus = key;
    this.#hub.send('status', status);
  }

  #snapshot(): unknown {
    const now = this.#now();
    const sensors = this.#state.sensors(now);
    const history = Object.fromEntries(sensors.map((s) => [s.key, this.#history.chart(s.key, now)]));
    return { now, windowMs: this.#history.windowMs, sensors, status: this.#state.status(now), history };
  }

  #api(): WebApi {
    return {
      sensors: () => {
        const now = this.#now();
        return { now, sensors: this.#state.sensors(now) };
      },
      status: () => this.#state.status(this.#now()),
      snapshot: () => this.#snapshot(),
      history: (id) => {
        const now = this.#now();
        const planned = new Map(this.#o.agent.sensors().map((s) => [s.key, s]));
        const known = new Set([...planned.keys(), ...this.#history.keys()]);
        if (id === undefined) {
          return { now, windowMs: this.#history.windowMs, sensors: Object.fromEntries([...known].map((k) => [k, this.#history.chart(k, now)])) };
        }
        // Either id notation, and `/humidity` etc. for a device's further measurements (plan.ts keys).
        const [device = '', measurement] = id.split('/', 2);
        const sysfs = parseDeviceId(device)?.sysfs;
        const key = sysfs === undefined ? undefined : measurement === undefined ? sysfs : `${sysfs}/${measurement}`;
        if (key === undefined || !known.has(key)) return undefined;
        return { now, windowMs: this.#history.windowMs, sensor: key, intervalMs: planned.get(key)?.intervalMs ?? null, ...this.#history.chart(key, now) };
      },
    };
  }

  async #load(file: string): Promise<void> {
    const outcome = await loadHistoryFile(file);
    if (outcome.kind === 'missing') {
      this.#log.debug({ file }, 'no saved history yet');
    } else if (outcome.kind === 'invalid') {
      this.#log.warn({ file, reason: outcome.reason, keptAs: outcome.keptAs }, 'saved history is unreadable: starting with none (the file is kept aside)');
    } else {
      const points = this.#history.restore(outcome.sensors, this.#now());
      this.#log.info({ file, sensors: Object.keys(outcome.sensors).length, points }, 'history loaded');
    }
  }

  async #save(file: string): Promise<void> {
    const now = this.#now();
    try {
      const saved = await saveHistoryFile(file, this.#history.saved(now), new Date(now));
      if (saved) this.#log.info({ file, sensors: saved.sensors, bytes: saved.bytes }, 'history saved');
    } catch (err) {
      this.#log.warn({ file, err: errText(err) }, 'cannot save history (set state_dir in sensors.yaml to a writable directory)');
    }
  }
}
