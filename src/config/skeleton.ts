import type { Device } from '../readings/device.js';
import { deviceKind } from '../readings/kinds.js';

/**
 * A `sensors:` entry to paste and edit, for `scan --yaml` and the page's unmapped list:
 * `topic` for the device's main measurement, one line per further measurement
 * (`humidity: home/26-…/humidity`). A thermometer has one measurement, so its entry is a topic and a name.
 */
export function skeletonEntry(device: Device, baseTopic: string): Record<string, string> {
  const [main, ...more] = deviceKind(device.id.family)?.measurements ?? [];
  const topic = (suffix: string): string => `${baseTopic}/${device.name}/${suffix}`;
  const entry: Record<string, string> = { topic: topic(main?.suffix ?? 'temperature'), name: `${device.chip} ${device.name}` };
  for (const m of more) entry[m.name] = topic(m.suffix);
  return entry;
}
