import { join } from 'node:path';
import { listenAddress } from '../config/loopback.js';
import type { BrokerConfig } from '../config/schema.js';

/**
 * Pure: the mosquitto.conf that `broker:` stands for. Option names and meanings are
 * mosquitto.conf(5)'s; the user's password_file and acl_file are referenced, never copied,
 * so mosquitto reads them exactly as a standalone mosquitto would (and re-reads them on SIGHUP).
 *
 * per_listener_settings is on so the agent gets a listener of its own: a unix socket in the
 * state directory (mode 0700, so only the service user reaches it) with no password and no
 * ACL, while every network listener carries the user's authentication and access rules.
 */

export interface BrokerPaths {
  /** The broker's directory in the state directory: conf, socket, pid file, persistence. */
  readonly dir: string;
  /** The user mosquitto runs as when started as root (it would switch to `mosquitto`, who cannot read the state directory). */
  readonly user: string;
}

export const CONF_FILE = 'mosquitto.conf';
export const SOCKET_FILE = 'agent.sock';
export const PID_FILE = 'mosquitto.pid';

export function socketPath(dir: string): string {
  return join(dir, SOCKET_FILE);
}

/** The listeners users connect to, for logs and for the port-in-use diagnosis. */
export function publicListeners(broker: BrokerConfig): { kind: 'mqtt' | 'mqtts' | 'ws'; host: string; port: number }[] {
  const out: { kind: 'mqtt' | 'mqtts' | 'ws'; host: string; port: number }[] = [{ kind: 'mqtt', host: listenAddress(broker.host), port: broker.port }];
  if (broker.tls) out.push({ kind: 'mqtts', host: listenAddress(broker.tls.host ?? broker.host), port: broker.tls.port });
  if (broker.websocket) out.push({ kind: 'ws', host: listenAddress(broker.websocket.host ?? broker.host), port: broker.websocket.port });
  return out;
}

export function renderMosquittoConf(broker: BrokerConfig, paths: BrokerPaths): string {
  const anonymous = broker.allow_anonymous ?? broker.password_file === undefined;
  const auth = [
    `max_connections ${broker.max_connections}`,
    `allow_anonymous ${anonymous}`,
    ...(broker.password_file === undefined ? [] : [`password_file ${broker.password_file}`]),
    ...(broker.acl_file === undefined ? [] : [`acl_file ${broker.acl_file}`]),
  ];
  const lines = [
    '# Written by w1mqtt from the broker: section of sensors.yaml at every start and reload.',
    '# Edits here are overwritten: change sensors.yaml instead.',
    'per_listener_settings true',
    `user ${paths.user}`,
    `pid_file ${join(paths.dir, PID_FILE)}`,
    `persistence ${broker.persistence}`,
    `persistence_location ${paths.dir}/`,
    // Saved every minute as well as at a clean stop, so a power cut loses at most a minute of retained values.
    'autosave_interval 60',
    // mosquitto wants whole seconds; a sub-second value still means "on".
    `sys_interval ${broker.sys_interval === 0 ? 0 : Math.max(1, Math.ceil(broker.sys_interval / 1000))}`,
    `max_packet_size ${broker.max_packet_size}`,
    `max_queued_messages ${broker.max_queued_messages}`,
    `max_queued_bytes ${broker.max_queued_bytes}`,
    // No limit on the retained store exists in mosquitto 2.0 (no count, no size), and its
    // memory_limit is no bound either: 2.0.11 exits with "Out of memory" when it is reached,
    // so a flood would become a crash loop with persistence. What a client may retain is
    // bounded by who may connect (password_file) and where they may write (acl_file).
    // The agent reads stderr line by line into its own log (broker/mosquitto-log.ts).
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_timestamp false',
    'connection_messages true',
    '',
    '# The agent itself: a unix socket only the service user can open.',
    `listener 0 ${socketPath(paths.dir)}`,
    'allow_anonymous true',
    '',
    '# MQTT (broker.host, broker.port)',
    `listener ${broker.port} ${listenAddress(broker.host)}`,
    ...auth,
  ];
  if (broker.tls) {
    lines.push('', '# MQTT over TLS (broker.tls)', `listener ${broker.tls.port} ${listenAddress(broker.tls.host ?? broker.host)}`, `certfile ${broker.tls.cert_file}`, `keyfile ${broker.tls.key_file}`);
    if (broker.tls.ca_file !== undefined) lines.push(`cafile ${broker.tls.ca_file}`);
    lines.push(`require_certificate ${broker.tls.require_certificate}`, ...auth);
  }
  if (broker.websocket) {
    lines.push('', '# MQTT over WebSocket (broker.websocket)', `listener ${broker.websocket.port} ${listenAddress(broker.websocket.host ?? broker.host)}`, 'protocol websockets', ...auth);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What a change of `broker:` needs: mosquitto re-reads its general options, users and
 * ACLs on SIGHUP, but binds listeners only at start (mosquitto.conf(5), "Not reloaded on
 * reload signal" under each listener option).
 */
export function brokerChange(before: BrokerConfig, after: BrokerConfig): 'none' | 'hup' | 'restart' {
  const listeners = (b: BrokerConfig) => JSON.stringify([publicListeners(b), b.tls, b.websocket, b.max_connections]);
  if (listeners(before) !== listeners(after)) return 'restart';
  return JSON.stringify(before) === JSON.stringify(after) ? 'none' : 'hup';
}
