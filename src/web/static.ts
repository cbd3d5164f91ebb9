import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../system/package-root.js';

/**
 * Every file the page loads, read into memory at start (about 70 kB): the page's
 * own files from `web/` at the package root and uPlot from its npm
 * package. Nothing is fetched from elsewhere: a Pi is often offline. Only names in
 * this table are served, so no request path ever reaches the filesystem.
 */

export const WEB_DIR = fileURLToPath(new URL('web/', packageRoot()));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** uPlot (MIT, Leon Sorokin), served under /vendor/. */
const VENDOR: readonly { readonly url: string; readonly module: string }[] = [
  { url: '/vendor/uPlot.iife.min.js', module: 'uplot/dist/uPlot.iife.min.js' },
  { url: '/vendor/uPlot.min.css', module: 'uplot/dist/uPlot.min.css' },
];

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export async function loadAssets(dir = WEB_DIR): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const name of await readdir(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    assets.set(`/${name}`, asset(await readFile(join(dir, name)), type));
  }
  const require = createRequire(import.meta.url);
  for (const v of VENDOR) {
    const type = TYPES[extname(v.module)] ?? 'application/octet-stream';
    assets.set(v.url, asset(await readFile(require.resolve(v.module)), type));
  }
  const index = assets.get('/index.html');
  if (!index) throw new Error(`the page's files are missing: no index.html in ${dir}`);
  assets.set('/', index);
  return assets;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}
