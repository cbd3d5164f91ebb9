/**
 * What each presence topic last said, so `online`/`offline` is published when it
 * changes (and once at start), not at every poll: a retained state topic like the
 * agent's own status. Keyed by topic, so a topic changed by a reload starts afresh.
 */
export class PresenceState {
  readonly #last = new Map<string, boolean>();

  /** Records the state; true when it differs from what the topic last said (or it said nothing yet). */
  update(topic: string, online: boolean): boolean {
    if (this.#last.get(topic) === online) return false;
    this.#last.set(topic, online);
    return true;
  }

  /** The topic is cleared or no longer ours: the next state is news again. */
  forget(topic: string): void {
    this.#last.delete(topic);
  }
}
