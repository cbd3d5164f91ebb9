import type { IClientOptions } from 'mqtt';

/**
 * The agent's availability at `<base_topic>/w1mqtt/<client_id>/status`: retained, so a
 * subscriber that comes later learns it at once, at QoS 1, so a reconnect cannot lose it.
 * The agent says `online` after each CONNACK and `offline` before a clean DISCONNECT
 * (which discards the Last Will, MQTT-3.14.4-3); the broker says `offline` for it, as the
 * Last Will, when the connection dies any other way (MQTT-3.1.2-8), so a crash shows too.
 */

export const ONLINE = 'online';
export const OFFLINE = 'offline';
export const STATUS_OPTIONS = { qos: 1, retain: true } as const;

export function lastWill(statusTopic: string): NonNullable<IClientOptions['will']> {
  return { topic: statusTopic, payload: OFFLINE, ...STATUS_OPTIONS };
}
