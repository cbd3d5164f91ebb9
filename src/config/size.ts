/**
 * Parse a size as users write it in sensors.yaml: `50MB`, `512KiB`, `2GB`, or a plain
 * number of bytes. Decimal units are powers of 1000 and binary ones powers of 1024, as in
 * systemd's and Telegraf's configuration. Returns bytes, or undefined when not a size.
 */
const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!m) return undefined;
  const factor = UNIT_BYTES[(m[2] ?? '').toLowerCase() || 'b'];
  if (factor === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
