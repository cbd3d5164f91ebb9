import { z } from 'zod';
import { parseDeviceId } from '../onewire/ids.js';
import { topic } from './fields.js';
import { sensorSchema } from './sensor-entry.js';
import { checkSensorKind } from './sensor-kinds.js';

/**
 * `sensors:`, keyed by 1-Wire id in either notation (28-0316a2792dff or 28.FF2D79A21603).
 * Checked as a whole because the shape alone cannot see two things: the same chip
 * written once in each notation, and an entry that does not fit its chip (whose
 * family the key names). A problem with the key itself is reported at the key.
 */
export const sensorsSchema = z
  .record(z.string(), z.union([topic, sensorSchema]).nullable())
  .superRefine((sensors, ctx) => {
    const seen = new Map<string, string>();
    for (const key of Object.keys(sensors)) {
      const id = parseDeviceId(key);
      if (!id) {
        ctx.addIssue({ code: 'custom', path: [key], params: { at: 'key' }, message: `"${key}" is not a 1-Wire id (e.g. 28-0316a2792dff or 28.FF2D79A21603)` });
        continue;
      }
      const earlier = seen.get(id.sysfs);
      if (earlier) ctx.addIssue({ code: 'custom', path: [key], params: { at: 'key' }, message: `same sensor as "${earlier}" (the other id notation)` });
      seen.set(id.sysfs, key);
      for (const issue of checkSensorKind(id.family, key, sensors[key])) ctx.addIssue({ code: 'custom', ...issue });
    }
  });
