import type { MeasurementEntry, SensorEntry } from './sensor-entry.js';
import { MEASUREMENT_NAMES, type DeviceKind, type Measurement } from '../readings/kinds.js';

/** One measurement's settings from a `sensors:` entry, before defaults from the top of the config. */
export interface MeasurementSettings {
  readonly topic: string | undefined;
  readonly name: string | undefined;
  readonly interval: number | undefined;
  readonly offset: number;
  readonly enabled: boolean;
}

/**
 * Pure: what a `sensors.<id>` entry says about one measurement of its device.
 *
 * - The device's main measurement (kinds.ts: the first) takes `topic`, `name`, `offset`
 *   from the top of the entry, so a thermometer's entry means what it always meant; its
 *   own key (`temperature:`, `presence:`) may say the same instead.
 * - Every other one has its own key: `humidity: home/bath/humidity`, `vdd: false`, or
 *   `voltage: {topic, name, interval, offset, enabled}`; its name defaults to the
 *   device's name plus what it measures ("Bathroom humidity").
 * - `interval` and `enabled` at the top apply to all of the device's measurements.
 */
export function measurementSettings(entry: SensorEntry | undefined, kind: DeviceKind, measurement: Measurement): MeasurementSettings {
  const main = kind.measurements[0] === measurement;
  const own = subEntry(entry?.[measurement.name]);
  const deviceName = entry?.name;
  return {
    topic: own.topic ?? (main ? entry?.topic : undefined),
    name: own.name ?? (deviceName === undefined || main ? deviceName : `${deviceName} ${measurement.title}`),
    interval: own.interval ?? entry?.interval,
    offset: own.offset ?? (main ? (entry?.offset ?? 0) : 0),
    enabled: (entry?.enabled ?? true) && (own.enabled ?? true),
  };
}

type Sub = { readonly topic?: string | undefined; readonly name?: string | undefined; readonly interval?: number | undefined; readonly offset?: number | undefined; readonly enabled?: boolean | undefined };

function subEntry(value: MeasurementEntry | undefined): Sub {
  if (value === undefined) return {};
  if (value === false) return { enabled: false };
  if (typeof value === 'string') return { topic: value };
  return value;
}

/** Every topic a `sensors.<id>` entry names: its own and its measurements'. */
export function entryTopics(value: string | SensorEntry | null): string[] {
  if (typeof value === 'string') return [value];
  if (!value) return [];
  const own = MEASUREMENT_NAMES.map((name) => subEntry(value[name]).topic);
  return [value.topic, ...own].filter((t): t is string => t !== undefined);
}
