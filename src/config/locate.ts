import { access } from 'node:fs/promises';

/** Where sensors.yaml is looked for when none is named, in order (the second is relative to the working directory). */
export const CONFIG_CANDIDATES: readonly string[] = ['/etc/w1mqtt/sensors.yaml', 'sensors.yaml'];

/**
 * Which sensors.yaml to use: --config, then $W1MQTT_CONFIG, then the system
 * file, then ./sensors.yaml. Undefined means none exists: run on defaults.
 * An explicitly named file that is missing is an error, not a silent default.
 */
export async function locateConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ file: string | undefined; explicit: boolean }> {
  const named = explicit ?? env['W1MQTT_CONFIG'];
  if (named !== undefined && named !== '') return { file: named, explicit: true };
  for (const candidate of CONFIG_CANDIDATES) {
    try {
      await access(candidate);
      return { file: candidate, explicit: false };
    } catch {
      // try the next one
    }
  }
  return { file: undefined, explicit: false };
}
