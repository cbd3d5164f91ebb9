import { isDeepStrictEqual } from 'node:util';
import { MEASUREMENT_NAMES } from '../readings/kinds.js';
import { parseDeviceId } from '../onewire/ids.js';
import type { Config } from './schema.js';

/**
 * Pure: what a live reload of sensors.yaml has to do, from the running config and
 * the new one. Three costs, cheapest first: applied in place (sensors, intervals,
 * payload format), a new MQTT connection (anything the CONNECT packet or the Last
 * Will carries), a new listener for the bundled broker. Keys this file does not
 * know about are reported as needing a restart: the safe answer for settings
 * added later.
 */

export interface SensorChange {
  /** The id as written in the new sensors.yaml. */
  readonly id: string;
  /** Which of topic, name, interval, offset, enabled, queue, and the per-measurement keys (humidity, …) changed. */
  readonly fields: readonly string[];
}

export type BrokerChange = 'keep' | 'start' | 'stop';

export interface ConfigDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly SensorChange[];
  /** Applied in place: `interval`, `unmapped`, `mqtt.qos`, … */
  readonly settings: readonly string[];
  /** The `sources` list changed: open the new ones, close the old ones. */
  readonly sources: boolean;
  /** MQTT settings that need a new connection (`mqtt.url`, `mqtt.client_id`, …). */
  readonly reconnect: readonly string[];
  /** `start`/`stop`: mqtt.url was removed/added. Other `broker.*` changes are in `settings` (broker/supervisor.ts applies them). */
  readonly broker: BrokerChange;
  /** Changed, but only read at start: applied after a restart. */
  readonly restart: readonly string[];
}

/** MQTT keys applied per publish; every other mqtt key is part of the connection. */
const MQTT_HOT = new Set(['qos', 'retain', 'payload', 'decimals', 'stats_interval']);
/**
 * Top-level keys re-read by the re-plan, the log level (pino children follow their root) and
 * `unavailable_after` (the agent's threshold follows, as the re-published discovery does).
 */
const TOP_HOT = new Set(['interval', 'unmapped', 'log_level', 'homeassistant', 'unavailable_after']);
/** Top-level keys with their own handling below. */
const TOP_HANDLED = new Set(['mqtt', 'broker', 'sources', 'sensors']);
const SENSOR_FIELDS = ['topic', 'name', 'interval', 'offset', 'enabled', 'queue', ...MEASUREMENT_NAMES] as const;

export function diffConfig(before: Config, after: Config): ConfigDiff {
  const settings: string[] = [];
  const reconnect: string[] = [];
  const restart: string[] = [];
  for (const key of unionKeys(before.mqtt, after.mqtt)) {
    if (isDeepStrictEqual(field(before.mqtt, key), field(after.mqtt, key))) continue;
    (MQTT_HOT.has(key) ? settings : reconnect).push(`mqtt.${key}`);
  }
  for (const key of unionKeys(before, after)) {
    if (TOP_HANDLED.has(key) || isDeepStrictEqual(field(before, key), field(after, key))) continue;
    (TOP_HOT.has(key) ? settings : restart).push(key);
  }
  const bundledBefore = before.mqtt.url === undefined;
  const bundledAfter = after.mqtt.url === undefined;
  let broker: BrokerChange = 'keep';
  if (bundledBefore && !bundledAfter) broker = 'stop';
  else if (!bundledBefore && bundledAfter) broker = 'start';
  if (bundledBefore && bundledAfter) {
    // All applied by the running broker: a SIGHUP, or a restart for new listeners.
    for (const key of unionKeys(before.broker, after.broker)) {
      if (!isDeepStrictEqual(field(before.broker, key), field(after.broker, key))) settings.push(`broker.${key}`);
    }
  }
  return {
    ...diffSensors(before.sensors, after.sensors),
    settings,
    sources: !isDeepStrictEqual(before.sources, after.sources),
    reconnect,
    broker,
    restart,
  };
}

export function hasChanges(d: ConfigDiff): boolean {
  return d.added.length + d.removed.length + d.changed.length + d.settings.length + d.reconnect.length + d.restart.length > 0 || d.sources || d.broker !== 'keep';
}

/** Whether the MQTT client (and maybe the bundled broker) must be replaced. */
export function needsNewConnection(d: ConfigDiff): boolean {
  return d.reconnect.length > 0 || d.broker !== 'keep';
}

/** The one log line a reload writes: `sensors +1 -0 ~1 (28-…: topic); interval; mqtt reconnect (client_id)`. */
export function summarizeDiff(d: ConfigDiff, after: Config): string {
  if (!hasChanges(d)) return 'no changes';
  const parts: string[] = [];
  if (d.added.length + d.removed.length + d.changed.length > 0) {
    const names = (ids: readonly string[]) => (ids.length > 0 && ids.length <= 3 ? ` (${ids.join(', ')})` : '');
    const changed = d.changed.length > 0 && d.changed.length <= 3 ? ` (${d.changed.map((c) => `${c.id}: ${c.fields.join('+')}`).join(', ')})` : '';
    parts.push(`sensors +${d.added.length}${names(d.added)} -${d.removed.length}${names(d.removed)} ~${d.changed.length}${changed}`);
  }
  if (d.settings.length > 0) parts.push(d.settings.join(', '));
  if (d.sources) parts.push('sources');
  if (d.broker === 'start') parts.push('bundled broker started (mqtt.url removed)');
  if (d.broker === 'stop') parts.push('bundled broker stopped (mqtt.url set)');
  if (d.reconnect.length > 0) parts.push(`mqtt reconnect (${d.reconnect.map((k) => k.replace(/^mqtt\./, '')).join(', ')})`);
  if (d.restart.length > 0) parts.push(`${d.restart.join(', ')}: applied after a restart`);
  return parts.join('; ');
}

function diffSensors(before: Config['sensors'], after: Config['sensors']): Pick<ConfigDiff, 'added' | 'removed' | 'changed'> {
  const old = bySysfs(before);
  const next = bySysfs(after);
  const added: string[] = [];
  const changed: SensorChange[] = [];
  for (const [sysfs, entry] of next) {
    const previous = old.get(sysfs);
    if (!previous) {
      added.push(entry.id);
      continue;
    }
    const fields = SENSOR_FIELDS.filter((f) => !isDeepStrictEqual(previous.value[f], entry.value[f]));
    if (fields.length > 0) changed.push({ id: entry.id, fields });
  }
  const removed = [...old].filter(([sysfs]) => !next.has(sysfs)).map(([, e]) => e.id);
  return { added, removed, changed };
}

type Normalised = { readonly [F in (typeof SENSOR_FIELDS)[number]]?: unknown };

/** Entries keyed by sysfs id, so rewriting an id in the other notation is no change. */
function bySysfs(sensors: Config['sensors']): Map<string, { id: string; value: Normalised }> {
  const map = new Map<string, { id: string; value: Normalised }>();
  for (const [id, raw] of Object.entries(sensors)) {
    const parsed = parseDeviceId(id);
    if (!parsed) continue;
    const value: Normalised = typeof raw === 'string' ? { topic: raw, offset: 0, enabled: true } : { offset: 0, enabled: true, ...(raw ?? {}) };
    map.set(parsed.sysfs, { id, value });
  }
  return map;
}

function unionKeys(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

function field(obj: object, key: string): unknown {
  return (obj as Record<string, unknown>)[key];
}
