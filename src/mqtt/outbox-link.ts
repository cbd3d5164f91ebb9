import type { EventEmitter } from 'node:events';
import type { QueuedMessage } from './outbox-record.js';

/**
 * The outbox's contract with the rest of the agent: the MQTT connection it sends through
 * (MqttPublisher fits it; unit tests pass an in-process stand-in) and what it reports.
 */

export interface OutboxLink {
  readonly connected: boolean;
  /** MQTT 5 Receive Maximum from the broker's CONNACK, if it sent one. */
  readonly receiveMaximum: number | undefined;
  publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
  /** The same as publish() with a callback: no promise per message (MqttPublisher has it). */
  send?(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }, done: (err: Error | undefined) => void): void;
  readonly events: EventEmitter<{ up: []; down: [] }>;
}

/** What the agent hands the outbox: the outbox adds the seq and the time. */
export type OutgoingMessage = Omit<QueuedMessage, 'seq' | 'at'>;

export interface OutboxStats {
  readonly dir: string | undefined;
  readonly queued: number;
  readonly bytes: number;
  readonly inFlight: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly superseded: number;
  readonly written: number;
}
