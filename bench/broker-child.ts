import { BundledBroker } from '../src/mqtt/broker.js';
import { silent } from './lib.js';

/** The bundled broker alone in a process, so the latency bench measures it like mosquitto. */
const broker = new BundledBroker({ host: '127.0.0.1', port: Number(process.argv[2]), log: silent });
await broker.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void broker.stop().then(() => process.exit(0)));
