import { z } from 'zod';
import { brokerSchema } from './broker-schema.js';
import { byteSize, duration, topic } from './fields.js';
import { mqttSchema } from './mqtt-schema.js';
import type { SensorEntry } from './sensor-entry.js';
import { sensorsSchema } from './sensors-schema.js';
import { sourceSchema } from './source-schema.js';
import { webSchema } from './web-schema.js';

export type { SensorEntry } from './sensor-entry.js';

/**
 * The one definition of sensors.yaml, composed from a file per section. Every type the
 * agent uses for its config is inferred from here (`z.output`), and `.default()` everywhere
 * means code past parsing never sees an undefined option. Strict objects make a typo an error.
 */

const homeassistantSchema = z.strictObject({
  /** Publish Home Assistant MQTT discovery messages. @default false */
  enabled: z.boolean().default(false),
  /** Home Assistant's discovery prefix. @default homeassistant */
  prefix: topic.default('homeassistant'),
  /** Where Home Assistant announces itself (its birth message): `online` → publish discovery again. */
  status_topic: topic.default('homeassistant/status'),
});

/**
 * Store-and-forward limits. The defaults hold a week of readings from 20 sensors at 30 s
 * (20 × 2/min × 10 080 min = 403 200) with JSON payloads of about 200 bytes on disk each.
 */
const outboxSchema = z.strictObject({
  max_messages: z.number().int().min(1).default(500_000),
  max_bytes: byteSize(64 * 1024, '50MB, 512MiB').default(128 * 1024 * 1024),
});

export const configSchema = z.strictObject({
  mqtt: mqttSchema.default(() => mqttSchema.parse({})),
  broker: brokerSchema.default(() => brokerSchema.parse({})),
  homeassistant: homeassistantSchema.default(() => homeassistantSchema.parse({})),
  /** Absent → every source that exists on this machine. */
  sources: z.array(sourceSchema).min(1).optional(),
  /** @default 30s */
  interval: duration(1000).default(30_000),
  unmapped: z.enum(['publish', 'ignore']).default('publish'),
  /** auto: convert a bus's due sensors at once unless one is parasite-powered; always; never. @default auto */
  bulk_read: z.enum(['auto', 'always', 'never']).default('auto'),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  web: webSchema.default(() => webSchema.parse({})),
  /** Where the outbox and the page's history survive a restart. @default $STATE_DIRECTORY, /var/lib/w1mqtt if writable, else ~/.local/state/w1mqtt */
  state_dir: z.string().min(1).optional(),
  outbox: outboxSchema.default(() => outboxSchema.parse({})),
  /** Consecutive failed reads after which a sensor's availability topic says `offline`; 0: no availability topics. */
  unavailable_after: z.number().int().min(0).max(1000).default(3),
  sensors: sensorsSchema.nullable().default({}).transform((s) => s ?? {}),
});

export type Config = z.output<typeof configSchema>;
export type MqttConfig = Config['mqtt'];
export type BrokerConfig = Config['broker'];
export type QueueMode = 'all' | 'latest';

/**
 * The one place a sensor's `queue` is decided: its own setting, else `all` for json
 * payloads (each carries its time, so a chart can place every reading) and `latest`
 * for plain ones (a bare value only makes sense as "the current temperature").
 */
export function queueMode(config: Config, entry: SensorEntry | undefined): QueueMode {
  return entry?.queue ?? (config.mqtt.payload === 'json' ? 'all' : 'latest');
}

/** The defaults: what the agent runs with when there is no sensors.yaml at all. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}
