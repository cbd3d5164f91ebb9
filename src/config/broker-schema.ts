import { z } from 'zod';
import { byteSize, duration, hostName, port } from './fields.js';
import { isLoopbackHost } from './loopback.js';

/** Keys of `broker:` that mosquitto has no use for and an earlier release's files may carry: warned about and ignored (config/retired.ts). */
const retired = z.unknown().optional();

/**
 * The bundled broker: Debian's mosquitto, run by the agent with a mosquitto.conf rendered
 * from these keys (broker/mosquitto-conf.ts). Names and meanings follow mosquitto.conf(5).
 */
export const brokerSchema = z
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
    max_queued_bytes: byteSize(4096, '1MiB, 512kB').default(1024 * 1024),
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
    // Every listener off loopback needs a password, or the user's explicit word that none is wanted.
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
