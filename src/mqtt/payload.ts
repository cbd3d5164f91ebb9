import type { MqttConfig } from '../config/schema.js';
import { formatPayload } from './topics.js';
import type { Measurement } from '../readings/kinds.js';
import { measurementText } from '../readings/value-text.js';

export interface ReadingInput {
  /** In the measurement's unit, offset applied; presence 1 or 0. */
  readonly value: number;
  readonly time: Date;
  readonly sensor: string;
  readonly name: string | undefined;
}

/**
 * The payload of one reading. A temperature keeps the thermometer's own form, which its
 * subscribers parse (mqtt/topics.ts formatPayload: `21.44`, or JSON with `"unit":"C"`). Others: plain
 * `45.2` / `2.35` / `online`, or JSON named after the quantity, zigbee2mqtt-style:
 * `{"humidity":45.2,"unit":"%",…}`, `{"voltage":2.35,"unit":"V",…}`, `{"presence":"online",…}`.
 */
export function readingPayload(mqtt: MqttConfig, measurement: Measurement, input: ReadingInput): string {
  const decimals = measurement.decimals ?? mqtt.decimals;
  if (measurement.quantity === 'temperature') {
    return formatPayload(mqtt.payload, decimals, { celsius: input.value, time: input.time, sensor: input.sensor, name: input.name });
  }
  const text = measurementText(measurement, input.value, mqtt.decimals);
  if (mqtt.payload === 'plain') return text;
  const value = measurement.quantity === 'presence' ? text : Number(text);
  return JSON.stringify({
    [measurement.quantity]: value,
    ...(measurement.unit === '' ? {} : { unit: measurement.unit }),
    time: input.time.toISOString(),
    sensor: input.sensor,
    ...(input.name === undefined ? {} : { name: input.name }),
  });
}
