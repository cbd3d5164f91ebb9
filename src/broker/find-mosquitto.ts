import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const MOSQUITTO_MISSING =
  'the bundled broker needs mosquitto, which is not installed: sudo apt install mosquitto ' +
  '(or set mqtt.url in sensors.yaml to use another broker)';

/** An executable on PATH or in `extra` directories; undefined when there is none. */
function findExecutable(name: string, extra: readonly string[], path: string): string | undefined {
  return [...path.split(delimiter), ...extra]
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * $W1MQTT_MOSQUITTO when set (a build of one's own), else PATH, else the sbin directories:
 * Debian installs mosquitto in /usr/sbin, which a user's PATH often lacks.
 */
export function findMosquitto(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chosen = env['W1MQTT_MOSQUITTO'];
  if (chosen !== undefined && chosen !== '') return isExecutable(chosen) ? chosen : undefined;
  return findExecutable('mosquitto', ['/usr/sbin', '/usr/local/sbin', '/sbin'], env['PATH'] ?? '');
}

/** setpriv (util-linux) gives the broker a parent-death signal, so a killed agent never leaves it behind. */
export function findSetpriv(path = process.env['PATH'] ?? ''): string | undefined {
  return findExecutable('setpriv', ['/usr/bin', '/bin'], path);
}
