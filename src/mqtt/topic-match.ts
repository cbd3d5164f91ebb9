/**
 * MQTT topic filter matching (MQTT 3.1.1 section 4.7), for the bundled broker's
 * ACLs. Pure, so the rules users write in `broker.users.*.read/write` are tested
 * without a broker.
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

/** True when some topic matches both filters: a subscription `a` may receive something `b` allows. */
export function filtersOverlap(a: string, b: string): boolean {
  if ((a.startsWith('$') && startsWithWildcard(b)) || (b.startsWith('$') && startsWithWildcard(a))) return false;
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return false;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
  return true;
}

/** A syntactically valid filter: `#` only as the whole last level, `+` only as a whole level (MQTT-4.7.1-2/3). */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => (level.includes('#') ? level === '#' && i === levels.length - 1 : !level.includes('+') || level === '+'));
}

/** mosquitto's acl_file `pattern` substitutions: `%u` the username, `%c` the client id. */
export function substitute(pattern: string, vars: { readonly username: string; readonly clientId: string }): string {
  return pattern.replaceAll('%u', vars.username).replaceAll('%c', vars.clientId);
}

function startsWithWildcard(filter: string): boolean {
  return filter.startsWith('+') || filter.startsWith('#');
}
