// Small text helpers for the page. No DOM here.

/** "12 s ago", "3 min ago", "2 h 5 min ago". */
export function ago(ms) {
  if (!Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** "30 s", "5 min", "750 ms". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** Local wall-clock time of an epoch-ms instant, "14:05:09". */
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

/**
 * The state shown now: the server's, except that "ok" turns "stale" as time passes
 * without a new reading (the page ticks every second between events).
 */
export function stateAt(sensor, now) {
  if (sensor.fault) return 'fault';
  if (sensor.at === null) return 'waiting';
  return now - sensor.at > sensor.staleAfterMs ? 'stale' : 'ok';
}
