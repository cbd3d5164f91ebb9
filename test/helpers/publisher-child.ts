import { pino } from 'pino';
import { configSchema } from '../../src/config/schema.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';

/**
 * A separate agent process for the Last Will test: it connects, prints `ready`
 * and waits to be killed. Usage: publisher-child.ts <url> <client_id> <status_topic>
 */
const [url, clientId, statusTopic] = process.argv.slice(2);
if (url === undefined || clientId === undefined || statusTopic === undefined) {
  process.stderr.write('usage: publisher-child.ts <url> <client_id> <status_topic>\n');
  process.exit(2);
}
const mqtt = configSchema.parse({ mqtt: { client_id: clientId } }).mqtt;
const publisher = new MqttPublisher({ url, mqtt, statusTopic, log: pino({ level: 'warn' }, process.stderr) });
await publisher.start();
process.stdout.write(publisher.connected ? 'ready\n' : 'not connected\n');
// Stay alive until killed: the test sends SIGKILL so no clean DISCONNECT reaches the broker.
setInterval(() => undefined, 60_000);
