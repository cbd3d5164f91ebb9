import { hostname } from 'node:os';
import { stringify } from 'yaml';
import type { Config } from '../config/schema.js';
import type { MeasurementName, Quantity } from '../readings/kinds.js';
import { skeletonEntry } from '../config/skeleton.js';
import { measurementText } from '../readings/value-text.js';
import type { SensorHealth } from '../health/fault-tracker.js';
import { sensorMap, type Route } from '../mqtt/route.js';
import type { ReadErrorCode } from '../readings/read-result.js';
import type { Device } from '../readings/device.js';
import { redactUrl } from '../system/redact-url.js';
import type { History } from './history.js';

/**
 * The page's view model: what the agent knows, shaped for the page and for scripts
 * (`/api/sensors`, `/api/status`). Built from the agent's read-only accessors, so
 * the page never reaches into agent internals and never changes anything.
 */

/** What the page reads from the agent. Optional members come with later features. */
export interface AgentView {
  readonly config: Config;
  readonly connected: boolean;
  readonly faults: { health(sensor: string): SensorHealth };
  sensors(): readonly Route[];
  /** `bulk`: whether the bus converts all its sensors at once (reported once bulk conversion exists). */
  busStats(): readonly { readonly bus: string; readonly sensors: number; readonly lastCycleMs: number | undefined; readonly bulk?: boolean | undefined }[];
  /** Every device the sources list, polled or not (unmapped: ignore hides some), and the source that lists it. */
  devices(): readonly { readonly source: string; readonly device: Device }[];
  /** Store-and-forward queue, once the agent has one. */
  outboxStats?(): { readonly queued: number } | undefined;
}

export type SensorState = 'ok' | 'stale' | 'fault' | 'waiting';

export interface SensorView {
  readonly key: string;
  readonly name: string;
  /** The id as written in sensors.yaml (or the source's notation). */
  readonly id: string;
  readonly sysfs: string;
  readonly owfs: string;
  readonly chip: string;
  readonly bus: string;
  readonly source: string;
  readonly topic: string;
  readonly mapped: boolean;
  readonly intervalMs: number;
  /** What is measured (readings/kinds.ts) and its unit: `°C`, `%`, `V`, empty for presence. */
  readonly measurement: MeasurementName;
  readonly quantity: Quantity;
  readonly unit: string;
  /** Last good value in its unit (offset applied; presence 1 or 0), its text as published, and when. */
  readonly value: number | null;
  readonly text: string | null;
  readonly at: number | null;
  readonly lastReadAt: number | null;
  readonly state: SensorState;
  /** No good value for this long means stale: three missed polls. */
  readonly staleAfterMs: number;
  readonly fault: { readonly code: ReadErrorCode; readonly summary: string; readonly message: string; readonly count: number; readonly since: number } | null;
}

export interface BusView {
  readonly bus: string;
  readonly label: string;
  readonly sensors: number;
  readonly lastCycleMs: number | null;
  /** One bus-wide conversion per cycle; null when this agent does not report it. */
  readonly bulk: boolean | null;
}

export interface UnmappedView {
  readonly sysfs: string;
  readonly owfs: string;
  readonly chip: string;
  readonly bus: string;
  readonly topic: string | null;
  readonly snippet: string;
}

export interface StatusView {
  readonly now: number;
  readonly host: string;
  readonly clientId: string;
  readonly broker: { readonly connected: boolean; readonly target: string };
  readonly outbox: { readonly depth: number } | null;
  readonly buses: readonly BusView[];
  readonly unmapped: readonly UnmappedView[];
  /** One `sensors:` block for every unmapped device, to paste into sensors.yaml. */
  readonly snippet: string;
}

const SHORT: Readonly<Record<ReadErrorCode, string>> = {
  power_on_reset: 'power-on 85 °C',
  insufficient_power: '127.94 °C: not enough power',
  crc_mismatch: 'CRC mismatch',
  all_zero: 'all-zero scratchpad',
  out_of_range: 'out of range',
  empty_read: 'empty read',
  parse_error: 'unreadable value',
  not_present: 'not present',
  io_error: 'I/O error',
  timeout: 'no answer',
  bus_stuck: 'bus blocked',
  no_thread: 'no free thread',
};

export class LiveState {
  readonly #agent: AgentView;
  readonly #history: History;
  readonly #lastRead = new Map<string, number>();
  /** Which source lists each device, by sysfs id: rebuilt when the agent's list is a new one. */
  /** The unmapped devices' skeletons by name, chip and base topic (#snippet). */
  #snippets = new Map<string, string>();
  #sources: { readonly of: readonly { readonly source: string; readonly device: Device }[]; readonly names: Map<string, string> } | undefined;

  constructor(agent: AgentView, history: History) {
    this.#agent = agent;
    this.#history = history;
  }

  /** Every read: one history point, `value` calibrated (readings/reading.ts), null for a failed read (a gap). */
  record(route: Route, at: number, value: number | null): void {
    this.#lastRead.set(route.key, at);
    this.#history.record(route.key, route.intervalMs, at, value ?? NaN);
  }

  sensors(now: number): SensorView[] {
    return this.#agent.sensors().map((s) => this.sensor(s, now));
  }

  sensor(s: Route, now: number): SensorView {
    const last = this.#history.lastGood(s.key);
    const health = this.#agent.faults.health(s.displayId);
    const staleAfterMs = 3 * s.intervalMs;
    const state: SensorState = health.fault ? 'fault' : !last ? 'waiting' : now - last.t > staleAfterMs ? 'stale' : 'ok';
    const { decimals } = this.#agent.config.mqtt;
    const m = s.measurement;
    const f = health.fault;
    return {
      key: s.key,
      name: s.label ?? s.displayId,
      id: s.displayId,
      sysfs: s.device.id.sysfs,
      owfs: s.device.id.owfs,
      chip: s.device.chip,
      bus: busLabel(s.device.bus),
      source: this.#sourceOf(s.device.id.sysfs),
      topic: s.topic,
      mapped: s.mapped,
      intervalMs: s.intervalMs,
      measurement: m.name,
      quantity: m.quantity,
      unit: m.unit,
      value: last ? Math.round(last.v * 10_000) / 10_000 : null,
      text: last ? measurementText(m, last.v, decimals) : null,
      at: last?.t ?? null,
      lastReadAt: this.#lastRead.get(s.key) ?? null,
      state,
      staleAfterMs,
      fault: f ? { code: f.code, summary: `${SHORT[f.code]}, ${f.count} time${f.count === 1 ? '' : 's'}`, message: f.message, count: f.count, since: f.since } : null,
    };
  }

  status(now: number): StatusView {
    const agent = this.#agent;
    const { config } = agent;
    const unmapped = this.#unmapped();
    const buses = agent.busStats().map((b) => ({
      bus: b.bus,
      label: busLabel(b.bus),
      sensors: b.sensors,
      lastCycleMs: b.lastCycleMs ?? null,
      bulk: b.bulk ?? null,
    }));
    const outbox = agent.outboxStats?.();
    return {
      now,
      host: hostname(),
      clientId: config.mqtt.client_id,
      broker: { connected: agent.connected, target: brokerTarget(config) },
      outbox: outbox ? { depth: outbox.queued } : null,
      buses,
      unmapped,
      snippet: unmapped.length === 0 ? '' : `sensors:\n${unmapped.map((u) => u.snippet).join('')}`,
    };
  }

  #unmapped(): UnmappedView[] {
    const { config } = this.#agent;
    const planned = new Map(this.#agent.sensors().map((s) => [s.key, s]));
    const mapped = sensorMap(config);
    const seen = new Set<string>();
    const out: UnmappedView[] = [];
    const snippets = new Map<string, string>();
    for (const { device } of this.#agent.devices()) {
      const key = device.id.sysfs;
      if (mapped.has(key) || seen.has(key)) continue;
      seen.add(key);
      const body = this.#snippet(device, config.mqtt.base_topic, snippets);
      out.push({
        sysfs: key,
        owfs: device.id.owfs,
        chip: device.chip,
        bus: busLabel(device.bus),
        topic: planned.get(key)?.topic ?? null,
        snippet: body.replace(/^( {2}\S[^\n]*:)\n/, `$1  # ${device.chip} on ${busLabel(device.bus)}\n`),
      });
    }
    this.#snippets = snippets;
    return out;
  }

  /**
   * A device's sensors.yaml skeleton, as YAML text. Kept from the last status (the page asks
   * every 2 s while it is open) rather than stringified again: the yaml library's stringify
   * was most of the page's CPU time with a few dozen unmapped sensors.
   */
  #snippet(device: Device, baseTopic: string, next: Map<string, string>): string {
    const key = `${device.name}\0${device.chip}\0${baseTopic}`;
    let body = this.#snippets.get(key);
    if (body === undefined) {
      const entry = { [device.name]: skeletonEntry(device, baseTopic) };
      body = stringify(entry).replace(/^/gm, '  ').replace(/ +$/, '');
    }
    next.set(key, body);
    return body;
  }

  /** A chip two sources list is read through the first (agent/plan.ts), so the first names it. */
  #sourceOf(sysfs: string): string {
    const devices = this.#agent.devices();
    if (this.#sources?.of !== devices) {
      const names = new Map<string, string>();
      for (const { source, device } of devices) if (!names.has(device.id.sysfs)) names.set(device.id.sysfs, source);
      this.#sources = { of: devices, names };
    }
    return this.#sources.names.get(sysfs) ?? '';
  }
}

/** `w1_bus_master1` for a kernel bus (its sysfs directory), the source name otherwise. */
export function busLabel(bus: string): string {
  return bus.startsWith('/') ? (bus.split('/').filter(Boolean).pop() ?? bus) : bus;
}

/** Where readings go, without any password that a URL might carry. */
function brokerTarget(config: Config): string {
  const { url } = config.mqtt;
  if (url === undefined) return `bundled broker on ${config.broker.host}:${config.broker.port}`;
  return redactUrl(url, 'credentials');
}
