import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { freePort } from '../test/helpers/ports.js';
import { percentile } from './lib.js';

export interface LatencyResult {
  readonly broker: string;
  readonly messages: number;
  readonly p50: number;
  readonly p99: number;
}

/**
 * Publish → receive latency through a broker: `count` QoS 1 messages, one every `gapMs`,
 * from one client to a subscriber on another connection; both clients in this process,
 * the broker in its own (the bundled one in broker-child.ts, or mosquitto).
 */
export async function measureLatency(count: number, gapMs: number): Promise<LatencyResult[]> {
  const results: LatencyResult[] = [];
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./broker-child.ts', import.meta.url).pathname, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', () => reject(new Error('bundled broker exited')));
    });
    results.push({ broker: 'bundled (supervised mosquitto)', ...(await roundTrips(`mqtt://127.0.0.1:${port}`, count, gapMs)) });
  } finally {
    child.kill('SIGTERM');
  }
  const mosquitto = await startMosquitto();
  try {
    results.push({ broker: 'mosquitto', ...(await roundTrips(mosquitto.url, count, gapMs)) });
  } finally {
    await mosquitto.stop();
  }
  return results;
}

async function roundTrips(url: string, count: number, gapMs: number): Promise<{ messages: number; p50: number; p99: number }> {
  const sub = await mqtt.connectAsync(url, { clientId: 'bench-sub' });
  const pub = await mqtt.connectAsync(url, { clientId: 'bench-pub' });
  const latencies: number[] = [];
  sub.on('message', (_topic, payload) => latencies.push(performance.now() - Number(payload.toString())));
  await sub.subscribeAsync('bench/latency', { qos: 1 });
  for (let i = 0; i < count; i++) {
    void pub.publishAsync('bench/latency', String(performance.now()), { qos: 1 });
    await new Promise((r) => setTimeout(r, gapMs));
  }
  const end = Date.now() + 10_000;
  while (latencies.length < count && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await pub.endAsync();
  await sub.endAsync();
  return { messages: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}
