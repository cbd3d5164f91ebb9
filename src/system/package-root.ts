import { existsSync } from 'node:fs';

let root: URL | undefined;

/**
 * The package's root (package.json, web/, fixtures/, dist/): the nearest directory above
 * this module with a package.json. The code runs from src/ (tests, tsx), from the dist/
 * bundle, or from one of the bundle's chunks in dist/chunks/, so no fixed `../` fits all.
 */
export function packageRoot(): URL {
  if (root) return root;
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    if (existsSync(new URL('package.json', dir))) return (root = dir);
  }
  throw new Error(`no package.json above ${import.meta.url}`);
}
