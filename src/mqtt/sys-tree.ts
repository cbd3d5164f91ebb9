/**
 * The bundled broker's `$SYS/broker/…` topics under mosquitto's names and formats
 * (mosquitto(8) "BROKER STATUS"; src/sys_tree.c), so tools written for mosquitto
 * (dashboards, Telegraf's mqtt_consumer recipes, `mosquitto_sub -t '$SYS/#'`) work
 * unchanged. Retained, every `sys_interval`, and like mosquitto only when a value
 * changed (uptime always). aedes' own `$SYS/<id>/heartbeat` topics are left alone.
 */

/** Running totals kept by the broker (see GuardedStream and broker.ts). */
export interface Traffic {
  bytesReceived: number;
  bytesSent: number;
  /** Packets of any type, as mosquitto counts "messages". */
  messagesReceived: number;
  messagesSent: number;
  publishReceived: number;
  publishSent: number;
  /** CONNECT packets received. */
  connections: number;
  /** Sockets accepted. */
  sockets: number;
}

export function emptyTraffic(): Traffic {
  return { bytesReceived: 0, bytesSent: 0, messagesReceived: 0, messagesSent: 0, publishReceived: 0, publishSent: 0, connections: 0, sockets: 0 };
}

export interface SysTreeSource {
  readonly traffic: Readonly<Traffic>;
  clientsConnected(): number;
  subscriptionCount(): number;
  retainedCount(): Promise<number>;
}

export interface SysTreeOptions {
  readonly source: SysTreeSource;
  readonly publish: (topic: string, payload: string) => void;
  readonly intervalMs: number;
  /** The text of `$SYS/broker/version`. */
  readonly version: string;
  readonly now?: () => number;
}

/** mosquitto's load topics: topic part → counter. */
const LOADS: readonly (readonly [string, keyof Traffic])[] = [
  ['messages/received', 'messagesReceived'],
  ['messages/sent', 'messagesSent'],
  ['publish/received', 'publishReceived'],
  ['publish/sent', 'publishSent'],
  ['bytes/received', 'bytesReceived'],
  ['bytes/sent', 'bytesSent'],
  ['connections', 'connections'],
  ['sockets', 'sockets'],
];
const WINDOWS: readonly (readonly [string, number])[] = [
  ['1min', 60],
  ['5min', 300],
  ['15min', 900],
];

/**
 * mosquitto's calc_load(): an exponentially weighted moving average of a per-minute
 * rate, `rate + e^(-elapsed/window) · (previous − rate)`, like the kernel's loadavg.
 */
export function nextLoad(previous: number, ratePerMinute: number, elapsedS: number, windowS: number): number {
  return ratePerMinute + Math.exp(-elapsedS / windowS) * (previous - ratePerMinute);
}

export class SysTree {
  readonly #o: SysTreeOptions;
  readonly #now: () => number;
  readonly #started: number;
  readonly #sent = new Map<string, string>();
  readonly #loads = new Map<string, number>();
  #last: { at: number; traffic: Traffic };
  #maxClients = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: SysTreeOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
    this.#last = { at: this.#started, traffic: { ...options.source.traffic } };
  }

  start(): void {
    this.#o.publish('$SYS/broker/version', this.#o.version);
    if (this.#o.intervalMs <= 0) return;
    void this.tick();
    this.reschedule(this.#o.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A new sys_interval (live reload); 0 stops the updates. */
  reschedule(intervalMs: number): void {
    this.stop();
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** One update of every topic (exported for tests that drive the clock). */
  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const { source } = this.#o;
      const now = this.#now();
      const traffic = { ...source.traffic };
      const connected = source.clientsConnected();
      this.#maxClients = Math.max(this.#maxClients, connected);
      this.#o.publish('$SYS/broker/uptime', `${Math.floor((now - this.#started) / 1000)} seconds`);
      this.#changed('clients/connected', connected);
      this.#changed('clients/maximum', this.#maxClients);
      this.#changed('messages/received', traffic.messagesReceived);
      this.#changed('messages/sent', traffic.messagesSent);
      this.#changed('publish/messages/received', traffic.publishReceived);
      this.#changed('publish/messages/sent', traffic.publishSent);
      this.#changed('bytes/received', traffic.bytesReceived);
      this.#changed('bytes/sent', traffic.bytesSent);
      this.#changed('subscriptions/count', source.subscriptionCount());
      this.#changed('retained messages/count', await source.retainedCount());
      this.#updateLoads(now, traffic);
      this.#last = { at: now, traffic };
    } finally {
      this.#ticking = false;
    }
  }

  #updateLoads(now: number, traffic: Traffic): void {
    const elapsedS = (now - this.#last.at) / 1000;
    if (elapsedS <= 0) return;
    for (const [name, key] of LOADS) {
      const rate = ((traffic[key] - this.#last.traffic[key]) * 60) / elapsedS;
      for (const [window, windowS] of WINDOWS) {
        const topic = `load/${name}/${window}`;
        const value = nextLoad(this.#loads.get(topic) ?? 0, rate, elapsedS, windowS);
        this.#loads.set(topic, value);
        this.#changed(topic, value.toFixed(2));
      }
    }
  }

  #changed(name: string, value: number | string): void {
    const text = String(value);
    if (this.#sent.get(name) === text) return;
    this.#sent.set(name, text);
    this.#o.publish(`$SYS/broker/${name}`, text);
  }
}
