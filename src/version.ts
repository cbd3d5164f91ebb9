import { readFileSync } from 'node:fs';
import { packageRoot } from './system/package-root.js';

/** The package version, from the package's package.json. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
