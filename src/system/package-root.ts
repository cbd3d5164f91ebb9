import { existsSync } from 'node:fs';

/**
 * The package's root (package.json, web/, fixtures/, dist/): the nearest directory above
 * this module with a package.json. The code runs from src/ (tests, tsx), from the dist/
 * bundle, or from one of the bundle's chunks in dist/chunks/, so no fixed `../` fits all.
 * Looked up by the few callers at start, a handful of stat() calls each.
 */
export function packageRoot(): URL {
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    if (existsSync(new URL('package.json', dir))) return dir;
  }
  throw new Error(`no package.json above ${import.meta.url}`);
}
