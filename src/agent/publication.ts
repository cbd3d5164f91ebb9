import type { Config } from '../config/schema.js';
import type { Availability } from '../health/availability.js';
import { PresenceState } from '../health/presence.js';
import type { Logger } from '../log.js';
import { readingPayload } from '../mqtt/payload.js';
import type { PublishTarget, Route } from '../mqtt/route.js';
import { availabilityTopic } from '../mqtt/topics.js';
import type { Outbox } from '../outbox/outbox.js';
import type { Reading } from '../readings/reading.js';

export interface PublicationOptions {
  readonly log: Logger;
  /** Read at each message: a reload may change the payload format, QoS or retain flag. */
  readonly config: () => Config;
  /** Undefined before start(): nothing is published then. */
  readonly outbox: () => Outbox | undefined;
}

/**
 * What the agent publishes for its sensors, as outbox messages: readings, presence
 * states and per-sensor availability. Never waits: the outbox sends while the broker
 * acknowledges and queues (on disk) while it does not.
 */
export class Publication {
  readonly #o: PublicationOptions;
  readonly #presence = new PresenceState();
  /** Readings taken while the connection is being replaced; published once it is back. */
  #held: Reading[] | undefined;

  constructor(options: PublicationOptions) {
    this.#o = options;
  }

  reading(route: Route, reading: Reading): void {
    if (this.#held) {
      this.#held.push(reading);
      return;
    }
    if (route.measurement.quantity === 'presence') this.presence(route, reading.value > 0, reading.at);
    else this.#publish(route, reading.value, reading.at);
  }

  /** The connection is being replaced: keep readings until release(). */
  hold(): void {
    this.#held = [];
  }

  /** Publish what was held, under the routes now in force (`routeOf` their key); a sensor since gone is dropped. */
  release(routeOf: (key: string) => Route | undefined): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const reading of held) {
      const route = routeOf(reading.key);
      if (route) this.reading(route, reading);
    }
  }

  /** `online`/`offline`, retained like the readings, only when it changes (health/presence.ts). */
  presence(target: PublishTarget, online: boolean, at: number): void {
    if (!this.#presence.update(target.topic, online)) return;
    this.#o.log.info({ sensor: target.displayId, topic: target.topic, state: online ? 'online' : 'offline' }, online ? 'device present' : 'device gone');
    this.#publish(target, online ? 1 : 0, at);
  }

  /** The topic was cleared by a reload: its next presence state is news again. */
  forget(topic: string): void {
    this.#presence.forget(topic);
  }

  /** `<topic>/availability`, retained; only the newest state matters after an outage. */
  availability(target: PublishTarget, state: Availability | undefined): void {
    if (state === undefined) return;
    this.#o.outbox()?.enqueue({ topic: availabilityTopic(target.topic), payload: state, qos: this.#o.config().mqtt.qos, retain: true, latest: true });
  }

  #publish(target: PublishTarget, value: number, at: number): void {
    const { mqtt } = this.#o.config();
    const payload = readingPayload(mqtt, target.measurement, { value, time: new Date(at), sensor: target.displayId, name: target.label });
    // A target with no queue mode of its own (an absent presence) is a state: only the newest matters.
    const latest = (target as Partial<Route>).queue !== 'all';
    this.#o.outbox()?.enqueue({ topic: target.topic, payload, qos: mqtt.qos, retain: mqtt.retain, latest });
    // Looked at first: the object would be built for every reading even with debug off.
    const log = this.#o.log;
    if (log.isLevelEnabled('debug')) log.debug({ sensor: target.displayId, topic: target.topic, payload }, 'reading');
  }
}
