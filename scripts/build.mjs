// `npm run build`: the agent as one bundle in dist/ (dist/main.js, the bus simulator's child
// dist/sim/sim-child.js, and the chunks loaded only when used: the bundled broker, the live
// page). One file of code instead of ~300 modules keeps ~5 MB of RSS off a Pi: V8 keeps
// every module's source text and a record per module (README "Performance"). Types are
// checked by `npm run typecheck` (and the test command), not here.
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

process.chdir(fileURLToPath(new URL('../', import.meta.url)));
await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/main.ts', 'src/sim/sim-child.ts'],
  outbase: 'src',
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: names stay, so a stack trace still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // pino starts its pretty printer in a worker by package name; unix-dgram is an optional
  // native addon loaded by name; ws's speed-ups are optional native addons.
  external: ['pino', 'pino-pretty', 'unix-dgram', 'bufferutil', 'utf-8-validate'],
  // A logger that costs nothing while off, and three packages MQTT.js loads whether or not
  // they are used, loaded on first use instead (see the files).
  alias: {
    debug: './src/system/debug-quiet.cjs',
    ws: './src/system/mqtt-lazy-ws.cjs',
    socks: './src/system/mqtt-lazy-socks.cjs',
    'worker-timers': './src/system/mqtt-lazy-worker-timers.cjs',
  },
  // The CommonJS packages in the bundle (MQTT.js) call require() for Node's modules.
  banner: { js: "import { createRequire as __w1mqttCreateRequire } from 'node:module'; const require = __w1mqttCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
