import { hostname } from 'node:os';
import { z } from 'zod';
import { duration, topic } from './fields.js';

/** `mqtt:`: the broker readings go to, how the agent logs in, and how readings are published. */
export const mqttSchema = z
  .strictObject({
    /** External broker, `mqtt://host:1883` or `mqtts://host:8883`. Absent → the bundled broker. */
    url: z
      .string()
      .refine((u) => /^(mqtts?|wss?|tcp|ssl):\/\/[^/]+/.test(u), 'use mqtt://host:port or mqtts://host:port')
      .optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    password_file: z.string().optional(),
    /** CA bundle for mqtts:// with a private CA. */
    ca_file: z.string().optional(),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    /** @default true: verify the broker's TLS certificate. */
    reject_unauthorized: z.boolean().default(true),
    /** @default w1mqtt-<hostname> */
    client_id: z
      .string()
      .min(1)
      .max(65535)
      .default(() => `w1mqtt-${hostname()}`),
    /** @default home */
    base_topic: topic.default('home'),
    qos: z.literal([0, 1, 2], { error: 'qos must be 0, 1 or 2' }).default(1),
    retain: z.boolean().default(true),
    payload: z.enum(['plain', 'json']).default('plain'),
    /** Decimals in the published value (DS18B20 resolves 1/16 °C). @default 2 */
    decimals: z.number().int().min(0).max(4).default(2),
    keepalive: duration(1000).default(30_000),
    /** auto: MQTT 5, and 3.1.1 when the broker refuses 5 (mqtt/connack.ts); 5 or 4 (3.1.1): that one only. @default auto */
    protocol: z.literal(['auto', 5, 4], { error: 'protocol must be auto, 5 (MQTT 5) or 4 (MQTT 3.1.1)' }).optional(),
    /** Deprecated spelling of `protocol`, kept so existing files keep working; `protocol` wins when both are set. */
    protocol_version: z.literal([4, 5], { error: 'protocol_version must be 4 (MQTT 3.1.1) or 5; write protocol: 4, 5 or auto instead' }).optional(),
    /** How often the agent's own counters go to `<base_topic>/w1mqtt/<client_id>/stats`; 0 turns them off. @default 60s */
    stats_interval: duration(0).default(60_000),
  })
  // One resolved `protocol` past parsing, so code (and diff.ts) never sees the alias:
  // moving a file from protocol_version: 5 to protocol: 5 is then no change at all.
  .transform(({ protocol, protocol_version, ...rest }) => ({ ...rest, protocol: protocol ?? protocol_version ?? ('auto' as const) }));
