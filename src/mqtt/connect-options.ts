import type { IClientOptions } from 'mqtt';
import type { MqttConfig } from '../config/schema.js';
import type { ProtocolLevel } from './connack.js';
import type { Credentials } from './credentials.js';
import { lastWill } from './status.js';

/**
 * The options the agent's one MQTT.js client is made with. The session is persistent
 * (3.1.1 clean=false, MQTT-3.1.2.4; MQTT 5 Session Expiry, MQTT-3.1.2.11): on a reconnect
 * MQTT.js resends the unacknowledged messages with the same packet ids before it reports
 * `connect`, and the broker can tell a resend from a new message, so QoS 2 stays
 * exactly-once across reconnects.
 */

/** The first retry after a lost connection; the publisher doubles it up to MAX_RETRY_MS while the outage lasts. */
export const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** MQTT 5 session expiry: a week, the span the outbox is sized for. */
const SESSION_EXPIRY_S = 7 * 24 * 3600;

export function clientOptions(mqtt: MqttConfig, level: ProtocolLevel, statusTopic: string, credentials: Credentials): IClientOptions {
  return {
    clientId: mqtt.client_id,
    clean: false,
    ...(level === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
    keepalive: Math.max(1, Math.round(mqtt.keepalive / 1000)),
    // Otherwise mqtt-packet pre-builds a 2-byte Buffer for each of the 65 536 packet ids
    // on the first publish: ~7 MB of heap kept for the life of the process, for no gain
    // we can measure (bench part c).
    writeCache: false,
    // Each packet sent or received would re-arm the keepalive timer (a timer object per
    // reading); a PINGREQ every keepalive interval while busy costs 2 bytes a minute instead.
    reschedulePings: false,
    // MQTT.js calls its debug logger ~20 times per publish, each call allocating its
    // arguments even when disabled; kept when DEBUG asks for it (DEBUG=mqttjs*).
    ...(/mqtt/.test(process.env['DEBUG'] ?? '') ? {} : { log: noLog }),
    protocolVersion: level,
    reconnectPeriod: FIRST_RETRY_MS,
    // A refused CONNACK (bad password) is retried too: the broker's side may get fixed.
    reconnectOnConnackError: true,
    // The publisher subscribes again on every connect itself, once.
    resubscribe: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    rejectUnauthorized: mqtt.reject_unauthorized,
    will: lastWill(statusTopic),
    ...(mqtt.username === undefined ? {} : { username: mqtt.username }),
    ...credentials,
  };
}

function noLog(): void {}
