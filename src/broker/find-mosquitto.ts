import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const MOSQUITTO_MISSING =
  'the bundled broker needs mosquitto, which is not installed: sudo apt install mosquitto ' +
  '(or set mqtt.url in sensors.yaml to use another broker)';

/** An executable on PATH or in `extra` directories; undefined when there is none. */
function findExecutable(name: string, extra: readonly string[], path: string): string | undefined {
  for (const dir of [...path.split(delimiter), ...extra].filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Debian installs mosquitto in /usr/sbin, which a user's PATH often lacks. */
export function findMosquitto(path = process.env['PATH'] ?? ''): string | undefined {
  return findExecutable('mosquitto', ['/usr/sbin', '/usr/local/sbin', '/sbin'], path);
}

/** setpriv (util-linux) gives the broker a parent-death signal, so a killed agent never leaves it behind. */
export function findSetpriv(path = process.env['PATH'] ?? ''): string | undefined {
  return findExecutable('setpriv', ['/usr/bin', '/bin'], path);
}
