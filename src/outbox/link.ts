import type { EventEmitter } from 'node:events';
import type { QueuedMessage } from './record.js';

/**
 * The outbox's contract with the rest of the agent: the MQTT connection it sends through
 * (MqttPublisher fits it; unit tests pass an in-process stand-in) and what it reports.
 */

export interface OutboxLink {
  readonly connected: boolean;
  /** MQTT 5 Receive Maximum from the broker's CONNACK, if it sent one. */
  readonly receiveMaximum: number | undefined;
  /** One publish; `done` once: undefined when acknowledged, an error when refused or given back. A callback, not a promise per message. */
  send(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }, done: (err: Error | undefined) => void): void;
  readonly events: EventEmitter<{ up: []; down: [] }>;
}

/** What the agent hands the outbox: the outbox adds the seq and the time. */
export type OutgoingMessage = Omit<QueuedMessage, 'seq' | 'at'>;

export interface OutboxStats {
  readonly dir: string | undefined;
  readonly queued: number;
  readonly bytes: number;
  readonly inFlight: number;
  /** Nothing queued, in flight or failing to be written: housekeeping sleeps until the next message. */
  readonly idle: boolean;
  readonly delivered: number;
  /** Refused by the broker with a failure reason code (MQTT 5 PUBACK ≥ 0x80): final, not sent again. */
  readonly rejected: number;
  readonly dropped: number;
  readonly superseded: number;
  readonly written: number;
}

/**
 * The broker's own answer to a publish, when it refused it: an MQTT 5 PUBACK/PUBREC reason
 * code ≥ 0x80 (MQTT-3.4.2.1, e.g. 0x87 Not authorized, 0x97 Quota exceeded), which MQTT.js
 * hands back as the error's numeric `code`. Sending it again gets the same answer. Errors
 * without one (the connection closed, the client stopped) are retried.
 */
export function brokerReasonCode(err: unknown): number | undefined {
  const code: unknown = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 0x80 && code <= 0xff ? code : undefined;
}
