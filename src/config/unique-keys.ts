import { isMap, isScalar, visit, type Document } from 'yaml';

/** The largest sensors.yaml read: about 3 000 sensors written out in full; a real one is a few kB. */
export const MAX_CONFIG_BYTES = 256 * 1024;

/**
 * Keys repeated within one mapping, each at the offset of its second (third, …) use, with
 * the message the yaml library gives. The library's own `uniqueKeys` check compares every
 * key with every earlier one: 12 000 sensors took 4.7 s to parse, all of it on the event
 * loop, which is where the readings are made. A Set per mapping makes it linear.
 */
export function duplicateKeys(doc: Document): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  visit(doc, {
    Map(_key, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        // Only scalar keys: a mapping or sequence used as a key is not valid sensors.yaml anyway.
        if (!isScalar(pair.key)) continue;
        const value = pair.key.value;
        if (seen.has(value)) found.push({ offset: pair.key.range?.[0] ?? 0, message: 'Map keys must be unique' });
        seen.add(value);
      }
    },
  });
  return found;
}
