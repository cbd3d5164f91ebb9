/**
 * MQTT topic filter matching (MQTT 3.1.1 section 4.7), for the agent's own
 * subscriptions (a received message goes to the handlers whose filter it matches).
 */

/** True when `topic` (no wildcards) matches `filter` (`+` one level, `#` the rest, parent included). */
export function topicMatches(filter: string, topic: string): boolean {
  // MQTT-4.7.2-1: a filter starting with a wildcard does not match topics starting with $.
  if (topic.startsWith('$') && startsWithWildcard(filter)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    // MQTT-4.7.1-2: `sport/#` also matches `sport`, so `#` matches before the length check.
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

function startsWithWildcard(filter: string): boolean {
  return filter.startsWith('+') || filter.startsWith('#');
}
