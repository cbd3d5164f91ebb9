import type { Route } from '../mqtt/route.js';

/**
 * Pure: what a new plan means for the state the agent keeps per sensor key (its
 * availability, its fault), which must follow the sensor wherever it now publishes.
 * A sensor's key (`28-…`, `26-…/humidity`) stays the same across a reload; its topic
 * and the id it is shown under (`displayId`, as written in sensors.yaml) may change.
 */
export interface Replan {
  /**
   * Still polled, now on another topic. Its retained `<topic>/availability` must be
   * said again there: the old one is cleared, and a state is only published when it
   * changes, so a sensor already online would otherwise never say so on its new topic.
   */
  readonly moved: readonly { readonly sensor: Route; readonly from: string }[];
  /** Still polled, shown under another id (the other notation, or mapped from unmapped). */
  readonly renamed: readonly { readonly from: string; readonly to: string }[];
  /**
   * No longer polled although a source still lists it: sensors.yaml took it out. Its
   * topics are retired by the reload (cleared, or taken over by another sensor), so
   * nothing is published for it: an `offline` would outlive the clear, or land on the
   * availability topic of the sensor that took its topic.
   */
  readonly dropped: readonly Route[];
  /** No longer polled because no source lists its device: it keeps its topics and says `offline`. */
  readonly vanished: readonly Route[];
}

/** `present`: the sysfs ids every source listed this time. */
export function replan(before: ReadonlyMap<string, Route>, after: readonly Route[], present: ReadonlySet<string>): Replan {
  const moved: { sensor: Route; from: string }[] = [];
  const renamed: { from: string; to: string }[] = [];
  const kept = new Set<string>();
  for (const sensor of after) {
    const old = before.get(sensor.key);
    if (!old) continue;
    kept.add(sensor.key);
    if (old.topic !== sensor.topic) moved.push({ sensor, from: old.topic });
    if (old.displayId !== sensor.displayId) renamed.push({ from: old.displayId, to: sensor.displayId });
  }
  const dropped: Route[] = [];
  const vanished: Route[] = [];
  for (const [key, old] of before) {
    if (kept.has(key)) continue;
    (present.has(old.device.id.sysfs) ? dropped : vanished).push(old);
  }
  return { moved, renamed, dropped, vanished };
}
