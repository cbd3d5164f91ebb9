import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundledBroker } from '../src/broker/supervisor.js';
import { configSchema } from '../src/config/schema.js';
import { silent } from './lib.js';

/** The bundled broker (mosquitto configured and supervised by w1mqtt) alone in a process, for the latency bench. */
const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-bench-broker-'));
const settings = configSchema.parse({ broker: { port: Number(process.argv[2]) } }).broker;
const broker = new BundledBroker({ settings, dir: join(dir, 'broker'), log: silent });
await broker.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void broker.stop().then(() => rm(dir, { recursive: true, force: true })).then(() => process.exit(0)));
