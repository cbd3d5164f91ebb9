import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';
import { topicMatches } from './topic-match.js';

/** A message the agent subscribed to (Home Assistant's birth message, retained discovery configs). */
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;

/**
 * The agent's subscriptions, kept apart from the connection: a new or expired session
 * has none (MQTT-3.1.2-6), so the publisher subscribes to `filters()` again after every
 * connect, and retained messages arrive again then too.
 */
export class Subscriptions {
  readonly #handlers = new Map<string, MessageHandler[]>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Adds a handler; true when `filter` is new, so it needs a SUBSCRIBE of its own. */
  add(filter: string, handler: MessageHandler): boolean {
    const list = this.#handlers.get(filter) ?? [];
    list.push(handler);
    this.#handlers.set(filter, list);
    return list.length === 1;
  }

  filters(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Forgets every handler; returns the filters that were subscribed. */
  clear(): string[] {
    const filters = this.filters();
    this.#handlers.clear();
    return filters;
  }

  /** Hands a message to every handler whose filter matches. A handler that throws is logged and does not stop the others. */
  dispatch(topic: string, payload: Buffer, retained: boolean): void {
    for (const [filter, handlers] of this.#handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) {
        try {
          handler(topic, payload, retained);
        } catch (err) {
          this.#log.error({ topic, err: errText(err) }, 'handling a received message failed');
        }
      }
    }
  }
}
