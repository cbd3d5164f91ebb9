import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../config/duration.js';
import { configSchema } from '../config/schema.js';
import { SimulatedBus } from '../demo/simulated-bus.js';
import { realisticBus } from '../demo/realistic-bus.js';
import { createLogger } from '../log.js';
import { runAgent } from './run.js';
import { UsageError } from './usage.js';

/** Topics for a few fixture sensors, to show both id notations in sensors.yaml. */
const DEMO_SENSORS = {
  '28-0316a2792dff': { topic: 'home/kitchen/temperature', name: 'Kitchen' },
  '10-000802b4a1c3': { topic: 'home/living-room/temperature', name: 'Living room' },
} as const;

/**
 * `w1mqtt demo`: the real agent on a copy of the fixture trees whose values move,
 * publishing through the bundled broker. Works on any machine, no 1-Wire needed.
 */
export async function demoCommand(args: { port?: string | undefined; interval?: string | undefined; webPort?: string | undefined; realistic?: boolean }): Promise<number> {
  const port = args.port === undefined ? 1883 : Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, not ${args.port}`);
  const webPort = args.webPort === undefined ? 8080 : Number(args.webPort);
  if (!Number.isInteger(webPort) || webPort < 0 || webPort > 65535) throw new UsageError(`--web-port must be a port number, not ${args.webPort}`);
  const intervalMs = parseDuration(args.interval ?? '5s');
  if (intervalMs === undefined || intervalMs < 1000) throw new UsageError(`--interval must be a duration of at least 1s, not ${args.interval}`);

  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-demo-'));
  const bus = new SimulatedBus(dir);
  await bus.create();
  bus.start(intervalMs);
  // --realistic: the w1 side is the kernel-faithful simulator (blocking reads, therm_bulk_read).
  const sim = args.realistic ? await realisticBus(join(dir, 'sim')) : undefined;
  const config = configSchema.parse({
    broker: { host: '127.0.0.1', port },
    sources: [
      { type: 'w1', path: sim?.w1Path ?? bus.w1Path },
      { type: 'owfs', path: bus.owfsPath },
    ],
    interval: intervalMs / 1000,
    sensors: DEMO_SENSORS,
    web: { host: '127.0.0.1', port: webPort },
    // The demo's history and outbox live and die with its simulated bus.
    state_dir: join(dir, 'state'),
  });
  const log = createLogger({ level: config.log_level });
  log.info(
    { w1: sim?.w1Path ?? bus.w1Path, realistic: sim !== undefined, owfs: bus.owfsPath, watch: `mosquitto_sub -h 127.0.0.1 -p ${port} -t 'home/#' -v` },
    'demo: a simulated 1-Wire bus (fixture copy with changing values) through the bundled broker',
  );
  const cleanup = async () => {
    await bus.stop();
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  // Port 8080 taken by something else: the demo takes a free port and logs the URL.
  const code = await runAgent(config, log, cleanup, { webFallbackPort: args.webPort === undefined });
  return code;
}
