import type { z } from 'zod';

/**
 * Every key name any mapping of a schema accepts, found by walking the zod schema itself, so
 * the "did you mean" list of the config loader never lags behind a new option.
 */
export function schemaKeys(schema: z.core.$ZodType): string[] {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (seen.has(node)) return;
    seen.add(node);
    const def = defOf(node);
    if (!def) return;
    if (def.shape) {
      for (const [key, child] of Object.entries(def.shape)) {
        keys.add(key);
        walk(child);
      }
    }
    // Wrappers (optional, default, nullable, pipe, transform…), containers and unions.
    for (const child of [def.innerType, def.in, def.out, def.element, def.keyType, def.valueType, def.left, def.right, ...(def.options ?? []), ...(def.items ?? [])]) {
      if (child !== undefined) walk(child);
    }
    if (typeof def.getter === 'function') walk(def.getter());
  };
  walk(schema);
  return [...keys];
}

/** The parts of a zod 4 definition (`schema._zod.def`) that hold other schemas. */
interface Def {
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  element?: unknown;
  keyType?: unknown;
  valueType?: unknown;
  left?: unknown;
  right?: unknown;
  options?: unknown[];
  items?: unknown[];
  getter?: () => unknown;
}

function defOf(node: unknown): Def | undefined {
  if (typeof node !== 'object' || node === null || !('_zod' in node)) return undefined;
  const def = (node as { _zod: { def?: unknown } })._zod.def;
  return typeof def === 'object' && def !== null ? (def as Def) : undefined;
}

/** The known key nearest to `key` within two edits, if any (ties: the first in schema order). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    if (candidate === key) continue;
    const distance = editDistance(candidate, key);
    if (distance <= 2 && distance < key.length && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}
