// What Node's own parts cost for w1mqtt's job, with nothing of w1mqtt: every interval, read
// each sensor's w1_slave through a kept fd with fs.read (one libuv thread-pool trip, one
// read at a time, as the agent does on a bus), check the CRC line, and publish the
// temperature with MQTT.js at QoS 1 (the client options the agent uses). bench/cost.ts
// runs it beside the agent and the Python baseline as a floor for the agent's CPU figure.
//
// usage: floor-node.mjs DEVICES_DIR HOST PORT INTERVAL_S BASE_TOPIC [CLIENT_ID]
import { openSync, read, readdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';

const [devices, host, port, interval, base, clientId = 'floor-node'] = process.argv.slice(2);
const names = readdirSync(devices).filter((n) => n.startsWith('28-')).sort();
const fds = names.map((n) => openSync(join(devices, n, 'w1_slave'), 'r'));
const topics = names.map((n) => `${base}/1wire/${n}/temperature`);
const client = await mqtt.connectAsync({ host, port: Number(port), clientId, clean: false, writeCache: false, reschedulePings: false, log: () => {} });
const buffer = Buffer.allocUnsafe(512);
const opts = { qos: 1, retain: true };

function cycle(i) {
  if (i === fds.length) return;
  read(fds[i], buffer, 0, 512, 0, (err, n) => {
    if (!err) {
      const text = buffer.toString('latin1', 0, n);
      const newline = text.indexOf('\n');
      if (text.slice(0, newline).trimEnd().endsWith('YES')) {
        const t = text.indexOf('t=', newline);
        client.publish(topics[i], (Number(text.slice(t + 2)) / 1000).toFixed(2), opts);
      }
    }
    cycle(i + 1);
  });
}

setInterval(() => cycle(0), Number(interval) * 1000);
cycle(0);
