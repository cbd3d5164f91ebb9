import type { MemEntry } from './outbox-queue.js';
import { encodeMessage, messageLineSize, type QueuedMessage } from './outbox-record.js';

/**
 * A message in memory. Its disk line (JSON, CRC) is built only if it is ever written:
 * with the broker acknowledging, it never is. The size (what counts against `max_bytes`)
 * is the line's, counted without building it.
 */
export class MemMessage implements MemEntry {
  readonly seq: number;
  readonly at: number;
  readonly topic: string;
  readonly payload: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly latest: boolean;
  readonly size: number;

  constructor(m: QueuedMessage) {
    this.seq = m.seq;
    this.at = m.at;
    this.topic = m.topic;
    this.payload = m.payload;
    this.qos = m.qos;
    this.retain = m.retain;
    this.latest = m.latest;
    this.size = messageLineSize(m);
  }

  get line(): Buffer {
    return encodeMessage(this);
  }
}
