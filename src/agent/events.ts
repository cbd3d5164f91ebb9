import type { Config } from '../config/schema.js';
import type { Route } from '../mqtt/route.js';
import type { Reading } from '../readings/reading.js';
import type { ReadError } from '../readings/read-result.js';

/**
 * What the agent tells other parts (web page, discovery, stats) without knowing them.
 * Listeners run synchronously inside the reading path: keep them cheap, never throw.
 * A read's events come after the sensor's fault and availability state took it in,
 * so a listener asking about the sensor sees the state this read left.
 */
export interface AgentEvents {
  /** A good read after validity checks and retries, calibrated once. */
  reading: [reading: Reading, route: Route];
  /** A read that failed after its retries. */
  failure: [error: ReadError, route: Route, at: number];
  /** The set of polled sensors changed (start, discovery, reload). */
  plan: [routes: readonly Route[]];
  /** A live reload of sensors.yaml was applied (after its 'plan', if the sensors changed). */
  reload: [config: Config];
}
