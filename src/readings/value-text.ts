import type { Measurement } from './kinds.js';

/** Round half away from zero on the decimal value, so 21.4375 → "21.44" at 2 decimals. */
export function formatValue(value: number, decimals: number): string {
  const factor = 10 ** decimals;
  const rounded = Math.sign(value) * Math.round(Math.abs(value) * factor) / factor;
  return (Object.is(rounded, -0) ? 0 : rounded).toFixed(decimals);
}

/** What a value is published as: `online`/`offline` for presence, else rounded to its decimals. */
export function measurementText(measurement: Measurement, value: number, mqttDecimals: number): string {
  if (measurement.quantity === 'presence') return value > 0 ? 'online' : 'offline';
  return formatValue(value, measurement.decimals ?? mqttDecimals);
}
