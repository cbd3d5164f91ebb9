import { hostname } from 'node:os';
import { z } from 'zod';
import { parseDeviceId } from '../onewire/ids.js';
import { checkSensorKind } from './sensor-kinds.js';
import { parseDuration } from './duration.js';
import { isLoopbackHost } from './loopback.js';
import { parseSize } from './size.js';

/**
 * The one definition of sensors.yaml. Every type the agent uses for its config
 * is inferred from here (`z.output`), and `.default()` everywhere means code past
 * parsing never sees an undefined option. Strict objects make a typo an error.
 */

const duration = (min: number) =>
  z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(value)} (use e.g. 30s, 5m, 1h, or seconds)` });
        return z.NEVER;
      }
      if (ms < min) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${min / 1000}s` });
        return z.NEVER;
      }
      return ms;
    });

/** A topic we publish to: no wildcards (MQTT-4.7.3-1 forbids them in PUBLISH), no NUL. */
const topic = z
  .string()
  .min(1, 'a topic cannot be empty')
  .max(65535)
  .refine((t) => !/[+#\u0000]/.test(t), 'a topic to publish to cannot contain +, # or NUL')
  .refine((t) => !t.startsWith('$'), 'topics starting with $ are reserved for the broker');

const port = z.number().int().min(1).max(65535);

/** A size of at least 4 KiB: `1MiB`, `512kB`, or bytes (config/size.ts). */
const queueBytes = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < 4096) {
    ctx.addIssue({ code: 'custom', message: `not a size of at least 4KiB: ${JSON.stringify(value)} (use e.g. 1MiB, 512kB, or bytes)` });
    return z.NEVER;
  }
  return bytes;
});

/** A host name or address as written: `check` refuses a stray space as `run`'s listen() or connect() would. */
const hostName = z.string().min(1).refine((h) => !/\s/.test(h), 'a host name or address cannot contain spaces');

const mqttSchema = z.strictObject({
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
  /** auto: MQTT 5, and 3.1.1 when the broker refuses 5 (mqtt/publisher.ts); 5 or 4 (3.1.1): that one only. @default auto */
  protocol: z.literal(['auto', 5, 4], { error: 'protocol must be auto, 5 (MQTT 5) or 4 (MQTT 3.1.1)' }).optional(),
  /** Deprecated spelling of `protocol`, kept so existing files keep working; `protocol` wins when both are set. */
  protocol_version: z.literal([4, 5], { error: 'protocol_version must be 4 (MQTT 3.1.1) or 5; write protocol: 4, 5 or auto instead' }).optional(),
  /** How often the agent's own counters go to `<base_topic>/w1mqtt/<client_id>/stats`; 0 turns them off. @default 60s */
  stats_interval: duration(0).default(60_000),
})
  // One resolved `protocol` past parsing, so code (and diff.ts) never sees the alias:
  // moving a file from protocol_version: 5 to protocol: 5 is then no change at all.
  .transform(({ protocol, protocol_version, ...rest }) => ({ ...rest, protocol: protocol ?? protocol_version ?? ('auto' as const) }));

/** Keys of `broker:` from the in-process broker that mosquitto has no use for: warned about and ignored (config/retired.ts). */
const retired = z.unknown().optional();

/**
 * The bundled broker: Debian's mosquitto, run by the agent with a mosquitto.conf rendered
 * from these keys (broker/mosquitto-conf.ts). Names and meanings follow mosquitto.conf(5).
 */
const brokerSchema = z
  .strictObject({
    /** @default 127.0.0.1: only this machine can connect. */
    host: hostName.default('127.0.0.1'),
    port: port.default(1883),
    /** Clients without a username. @default true without a password_file, false with one */
    allow_anonymous: z.boolean().optional(),
    /** mosquitto's own password file (`w1mqtt passwd` or mosquitto_passwd writes it), used unchanged. */
    password_file: z.string().min(1).optional(),
    /** mosquitto's own acl_file (`topic`, `user`, `pattern` lines), used unchanged. */
    acl_file: z.string().min(1).optional(),
    /** An MQTT-over-TLS listener (mosquitto's certfile/keyfile/cafile). */
    tls: z
      .strictObject({
        host: hostName.optional(),
        port: port.default(8883),
        cert_file: z.string().min(1),
        key_file: z.string().min(1),
        /** CA of client certificates; with require_certificate, only clients it signed connect. */
        ca_file: z.string().min(1).optional(),
        require_certificate: z.boolean().default(false),
      })
      .optional(),
    /** An MQTT-over-WebSocket listener for browser dashboards. */
    websocket: z.strictObject({ host: hostName.optional(), port: port.default(9001) }).optional(),
    /** Open connections per listener; the agent's own one has a listener of its own. @default 256 */
    max_connections: z.number().int().min(1).default(256),
    /** Largest MQTT packet accepted, header included (mosquitto's max_packet_size). @default 262144 */
    max_packet_size: z.number().int().min(128).max(268_435_455).default(262_144),
    /** Messages queued per client beyond those in flight (mosquitto's max_queued_messages). @default 1000 */
    max_queued_messages: z.number().int().min(0).default(1000),
    /**
     * Bytes queued per client beyond those in flight, whichever of the two limits comes first
     * (mosquitto's max_queued_bytes; its own default is no limit: 1000 messages of 256 kB each).
     * `1MiB`, `512kB`, or bytes. @default 1MiB
     */
    max_queued_bytes: queueBytes.default(1024 * 1024),
    /** How often `$SYS/broker/…` is updated, in whole seconds (mosquitto's sys_interval); 0 turns it off. @default 10s */
    sys_interval: duration(0).default(10_000),
    /** Retained messages and sessions saved in the state directory, so they survive a restart. @default true */
    persistence: z.boolean().default(true),
    users: retired,
    protect_agent_topics: retired,
    connect_timeout: retired,
    slow_subscriber_timeout: retired,
  })
  .superRefine((broker, ctx) => {
    if (broker.users !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['users'],
        message:
          'no longer read: the bundled broker is now mosquitto, which keeps users in its own password file. ' +
          'Make one with `sudo w1mqtt passwd -c /etc/w1mqtt/passwd <user>` (again without -c for each further user), ' +
          'set broker.password_file: /etc/w1mqtt/passwd, and put read/write rules in a mosquitto acl_file (broker.acl_file)',
      });
    }
    const listeners: [string, string[]][] = [[broker.host, ['host']]];
    if (broker.tls) listeners.push([broker.tls.host ?? broker.host, broker.tls.host ? ['tls', 'host'] : ['tls']]);
    if (broker.websocket) listeners.push([broker.websocket.host ?? broker.host, broker.websocket.host ? ['websocket', 'host'] : ['websocket']]);
    const secured = broker.password_file !== undefined || broker.allow_anonymous === true;
    for (const [host, path] of listeners) {
      if (isLoopbackHost(host) || secured) continue;
      ctx.addIssue({
        code: 'custom',
        path,
        message: `listening on ${host} lets other machines connect: set broker.password_file (make it with \`w1mqtt passwd -c FILE <user>\`) or set broker.allow_anonymous: true`,
      });
    }
    const ports = [broker.port, broker.tls?.port, broker.websocket?.port].filter((p) => p !== undefined);
    if (new Set(ports).size !== ports.length) ctx.addIssue({ code: 'custom', path: ['port'], message: 'broker.port, broker.tls.port and broker.websocket.port must differ' });
  });

const homeassistantSchema = z.strictObject({
  /** Publish Home Assistant MQTT discovery messages. @default false */
  enabled: z.boolean().default(false),
  /** Home Assistant's discovery prefix. @default homeassistant */
  prefix: topic.default('homeassistant'),
  /** Where Home Assistant announces itself (its birth message): `online` → publish discovery again. */
  status_topic: topic.default('homeassistant/status'),
});

/** The live page (src/web). Same rule as the bundled broker: off loopback, a password or an explicit opt-out. */
const webSchema = z
  .strictObject({
    /** @default true */
    enabled: z.boolean().default(true),
    /** @default 127.0.0.1: only this machine (open it elsewhere through an SSH tunnel). */
    host: hostName.default('127.0.0.1'),
    /** 0 picks a free port. @default 8080 */
    port: z.number().int().min(0).max(65535).default(8080),
    /** The HTTP Basic user name asked for when password_file is set. @default w1mqtt */
    username: z.string().min(1).default('w1mqtt'),
    /** A file holding the page's password (first line). Required off loopback. */
    password_file: z.string().min(1).optional(),
    /** true: serve another address without a password, knowingly. @default false */
    allow_anonymous: z.boolean().default(false),
  })
  .superRefine((web, ctx) => {
    if (!web.enabled || isLoopbackHost(web.host) || web.password_file !== undefined || web.allow_anonymous) return;
    ctx.addIssue({
      code: 'custom',
      path: ['host'],
      message:
        `the page would be open to the network on ${web.host} without a password: ` +
        'set web.password_file (or allow_anonymous: true to accept that), or keep host 127.0.0.1 and use an SSH tunnel',
    });
  });

const w1Source = z.strictObject({
  type: z.literal('w1'),
  path: z.string().min(1).default('/sys/bus/w1/devices'),
});
const owfsSource = z.strictObject({
  type: z.literal('owfs'),
  path: z.string().min(1).default('/mnt/1wire'),
  /** Read `/uncached/<dev>/temperature` so a value is never up to 15 s old. @default true */
  uncached: z.boolean().default(true),
});
const owserverSource = z.strictObject({
  type: z.literal('owserver'),
  /** owserver's address: this machine, or the one the bus master is plugged into. @default 127.0.0.1 */
  host: hostName.default('127.0.0.1'),
  port: port.default(4304),
  /** Per request, connect included. A 12-bit read takes ~0.75 s on the bus. @default 5s */
  timeout: duration(100).default(5000),
  /** Read `/uncached/<dev>/temperature`. @default true */
  uncached: z.boolean().default(true),
});
export const sourceSchema = z.discriminatedUnion('type', [w1Source, owfsSource, owserverSource]);

/**
 * One measurement of a device (devices/kinds.ts): a topic alone, `false` (not
 * published), or its own settings. Unset settings come from the device's entry.
 */
const measurementSchema = z.union([
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

const sensorSchema = z.strictObject({
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
  /** After an outage: every queued reading, or only the newest. Absent → see queueMode(). */
  queue: z.enum(['all', 'latest']).optional(),
});

const sensorsSchema = z
  .record(z.string(), z.union([topic, sensorSchema]).nullable())
  .superRefine((sensors, ctx) => {
    const seen = new Map<string, string>();
    for (const key of Object.keys(sensors)) {
      const id = parseDeviceId(key);
      if (!id) {
        ctx.addIssue({ code: 'custom', path: [key], params: { at: 'key' }, message: `"${key}" is not a 1-Wire id (e.g. 28-0316a2792dff or 28.FF2D79A21603)` });
        continue;
      }
      const earlier = seen.get(id.sysfs);
      if (earlier) ctx.addIssue({ code: 'custom', path: [key], params: { at: 'key' }, message: `same sensor as "${earlier}" (the other id notation)` });
      seen.set(id.sysfs, key);
      for (const issue of checkSensorKind(id.family, key, sensors[key])) ctx.addIssue({ code: 'custom', ...issue });
    }
  });

const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined || bytes < 64 * 1024) {
    ctx.addIssue({ code: 'custom', message: `not a size of at least 64KiB: ${JSON.stringify(value)} (use e.g. 50MB, 512MiB, or bytes)` });
    return z.NEVER;
  }
  return bytes;
});

/**
 * Store-and-forward limits. The defaults hold a week of readings from 20 sensors at 30 s
 * (20 × 2/min × 10 080 min = 403 200) with JSON payloads of about 200 bytes on disk each.
 */
const outboxSchema = z.strictObject({
  max_messages: z.number().int().min(1).default(500_000),
  max_bytes: size.default(128 * 1024 * 1024),
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
export type WebConfig = Config['web'];
export type HomeAssistantConfig = Config['homeassistant'];
export type SourceConfig = z.output<typeof sourceSchema>;
export type SensorEntry = z.output<typeof sensorSchema>;
export type MeasurementEntry = z.output<typeof measurementSchema>;
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
