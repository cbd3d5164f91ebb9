import type { Config } from '../config/schema.js';
import { formatValue } from '../readings/value-text.js';

/**
 * Pure topic and payload builders. Kept apart from the client so the names users
 * subscribe to are tested without a broker.
 */

/** Where an unmapped device publishes: `<base_topic>/1wire/<id>/temperature` (or `/humidity`, … readings/kinds.ts). */
export function unmappedTopic(baseTopic: string, deviceName: string, suffix = 'temperature'): string {
  return `${baseTopic}/1wire/${deviceName}/${suffix}`;
}

/** Retained `online`/`offline`, with `offline` as the Last Will (zigbee2mqtt's bridge/state idea). */
export function statusTopic(config: Config): string {
  return `${config.mqtt.base_topic}/w1mqtt/${config.mqtt.client_id}/status`;
}

/**
 * A sensor's own availability, retained `online`/`offline` (Home Assistant's defaults for
 * `payload_available`/`payload_not_available`; zigbee2mqtt uses `<device>/availability` too).
 */
export function availabilityTopic(sensorTopic: string): string {
  return `${sensorTopic}/availability`;
}

export interface PayloadInput {
  /** °C after calibration offset. */
  readonly celsius: number;
  readonly time: Date;
  /** The id as the user wrote it (or the source's own notation for unmapped devices). */
  readonly sensor: string;
  readonly name?: string | undefined;
}

export function formatPayload(kind: 'plain' | 'json', decimals: number, input: PayloadInput): string {
  const value = formatValue(input.celsius, decimals);
  if (kind === 'plain') return value;
  return JSON.stringify({
    temperature: Number(value),
    unit: 'C',
    time: input.time.toISOString(),
    sensor: input.sensor,
    ...(input.name === undefined ? {} : { name: input.name }),
  });
}
