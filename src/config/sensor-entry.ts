import { z } from 'zod';
import { duration, topic } from './fields.js';

/**
 * One device under `sensors:`, written either as a topic alone or as its settings, and
 * the settings of each of its measurements. What fits which chip is checked apart
 * (sensor-kinds.ts): the shape here is the same for every device.
 */

/**
 * One measurement of a device (readings/kinds.ts): a topic alone, `false` (not
 * published), or its own settings. Unset settings come from the device's entry.
 */
export const measurementSchema = z.union([
  topic,
  z.literal(false),
  z.strictObject({
    topic: topic.optional(),
    name: z.string().min(1).optional(),
    interval: duration(1000).optional(),
    /** Calibration added to every reading, in the measurement's unit. */
    offset: z.number().min(-20).max(20).optional(),
    enabled: z.boolean().optional(),
  }),
]);

export const sensorSchema = z.strictObject({
  /** The device's main measurement (a thermometer's temperature, a DS2401's presence). */
  topic: topic.optional(),
  name: z.string().min(1).optional(),
  interval: duration(1000).optional(),
  /** Calibration added to every reading of the main measurement, °C. */
  offset: z.number().min(-20).max(20).default(0),
  /** false: read nothing and publish nothing for this sensor. */
  enabled: z.boolean().default(true),
  /** Per measurement, for devices that have them (checked against the chip by sensor-kinds.ts). */
  temperature: measurementSchema.optional(),
  humidity: measurementSchema.optional(),
  voltage: measurementSchema.optional(),
  vdd: measurementSchema.optional(),
  presence: measurementSchema.optional(),
  /** After an outage: every queued reading, or only the newest. Absent → see queueMode() in schema.ts. */
  queue: z.enum(['all', 'latest']).optional(),
});

export type SensorEntry = z.output<typeof sensorSchema>;
export type MeasurementEntry = z.output<typeof measurementSchema>;
