import { deviceKind, deviceKinds, MEASUREMENT_NAMES } from '../readings/kinds.js';
import { chipName } from '../readings/families.js';
import type { SensorEntry } from './sensor-entry.js';

/**
 * What the zod shape cannot see: whether a `sensors:` entry fits its chip. The
 * family in the id decides the kind (readings/kinds.ts); a measurement the chip does
 * not have, a topic set twice, or an offset for presence is a mistake worth a
 * line:col, not a silently unused key.
 */

export interface KindIssue {
  readonly path: (string | number)[];
  readonly params?: { readonly at: 'key' };
  readonly message: string;
}

export function checkSensorKind(family: string, key: string, value: string | SensorEntry | null | undefined): KindIssue[] {
  const kind = deviceKind(family);
  if (!kind) {
    const known = deviceKinds()
      .map((k) => `${k.chip} (${k.family.toUpperCase()})`)
      .join(', ');
    const chip = chipName(family);
    const what = chip.startsWith('family ') ? chip : `a ${chip}`;
    return [{ path: [key], params: { at: 'key' }, message: `"${key}" is ${what}, which w1mqtt does not read; it reads ${known}` }];
  }
  if (typeof value !== 'object' || value === null) return [];
  const issues: KindIssue[] = [];
  const names = kind.measurements.map((m) => m.name);
  const main = kind.measurements[0];
  for (const name of MEASUREMENT_NAMES) {
    const sub = value[name];
    if (sub === undefined) continue;
    if (!names.includes(name)) {
      issues.push({ path: [key, name], message: `a ${kind.chip} has no ${name}: it measures ${names.join(', ')}` });
      continue;
    }
    const subTopic = typeof sub === 'string' ? sub : sub === false ? undefined : sub.topic;
    if (name === main?.name && value.topic !== undefined && subTopic !== undefined) {
      issues.push({ path: [key, name], message: `the ${name} topic is already set by topic: above; keep one of them` });
    }
    if (typeof sub === 'object' && sub.offset !== undefined && kind.measurements.find((m) => m.name === name)?.quantity === 'presence') {
      issues.push({ path: [key, name, 'offset'], message: 'presence has no offset' });
    }
  }
  if (main?.quantity === 'presence' && value.offset !== 0) {
    issues.push({ path: [key, 'offset'], message: `a ${kind.chip} measures presence, which has no offset` });
  }
  return issues;
}
