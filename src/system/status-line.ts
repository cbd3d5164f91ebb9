/**
 * Pure: the one line `systemctl status w1mqtt` shows under "Status:", e.g.
 * `12 sensors, last cycle 0.9 s, broker connected`. Worst news last, so a
 * truncated terminal line still starts with the everyday facts.
 */
export interface StatusInput {
  readonly sensors: number;
  /** Sensors whose latest read failed. */
  readonly failing: number;
  /** The slowest bus's last pass over its due sensors. */
  readonly lastCycleMs: number | undefined;
  readonly connected: boolean;
  /** A read that has not returned for longer than the watchdog allows. */
  readonly stuck?: { readonly sensor: string; readonly bus: string; readonly forMs: number } | undefined;
  /** Why the latest sensors.yaml edit was not applied. */
  readonly configError?: string | undefined;
}

export function statusLine(s: StatusInput): string {
  const parts = [`${s.sensors} sensor${s.sensors === 1 ? '' : 's'}${s.failing > 0 ? ` (${s.failing} failing)` : ''}`];
  if (s.lastCycleMs !== undefined) parts.push(`last cycle ${(s.lastCycleMs / 1000).toFixed(1)} s`);
  parts.push(s.connected ? 'broker connected' : 'broker unreachable, readings queued');
  let line = parts.join(', ');
  if (s.stuck) line += `; read of ${s.stuck.sensor} on ${busName(s.stuck.bus)} stuck for ${Math.round(s.stuck.forMs / 1000)} s`;
  if (s.configError) line += `; sensors.yaml not applied: ${s.configError}`;
  return line;
}

/** `/sys/devices/w1_bus_master1` → `w1_bus_master1`; other bus keys unchanged. */
function busName(bus: string): string {
  return bus.split('/').filter(Boolean).pop() ?? bus;
}
