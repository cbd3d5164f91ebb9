import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { encodeScratchpad, formatW1Slave, kernelMilli } from '../../src/onewire/scratchpad-encode.js';
import { decodeLines, messageShape } from '../../src/outbox/record.js';
import { fixtureWorkspace, startCli, type AgentProcess } from './agent-process.js';
import { startMosquitto, type Mosquitto } from './mosquitto.js';
import { subscribe, type Subscriber } from './mqtt-sub.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';
import { waitFor } from './until.js';

/**
 * A broker outage end to end: a real mosquitto that keeps a persistent subscriber's
 * queue across its restarts, the real agent as a child process reading a fixture tree
 * whose temperatures change every 250 ms (so every reading is distinct), and the
 * readings the agent produced (its debug log) next to what the subscriber received.
 */

/** Three sensors on two buses of the fixture tree. */
export const SENSORS = {
  '28-0316a2792dff': 'test/a/temperature',
  '28-0316a27a1c44': 'test/b/temperature',
  '22-00000053e8a1': 'test/c/temperature',
} as const;

export interface Reading {
  readonly topic: string;
  readonly payload: string;
}

export interface Outage {
  readonly dir: string;
  readonly stateDir: string;
  readonly configFile: string;
  readonly clientId: string;
  mosquitto: Mosquitto;
  readonly sub: Subscriber;
  /** With `proxy: true`: the relay the agent connects through (the subscriber does not). */
  readonly proxy: TcpProxy | undefined;
  agents: AgentProcess[];
  startAgent(): Promise<AgentProcess>;
  stopBroker(): Promise<void>;
  startBroker(): Promise<void>;
  /** Every reading the agents produced so far, in order. */
  produced(): Reading[];
  /** What the subscriber received, availability messages left out. */
  received(): Reading[];
  queueFiles(): Promise<string[]>;
  /** The readings in the outbox's queue files right now, oldest first (read only, whole records). */
  onDisk(): Promise<Reading[]>;
  /** Resolves, with them, once every reading produced so far was received (or rejects after `ms`). */
  allReceived(ms?: number): Promise<Reading[]>;
}

/** `mqtt`: more lines for the mqtt block; `acl`: the broker's acl_file; `proxy`: connect the agent through a TcpProxy. */
export async function outage(t: TestContext, extra: { payload: 'json' | 'plain'; yaml?: string; mqtt?: string; acl?: string; proxy?: boolean }): Promise<Outage> {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const dataDir = await mkdtemp(join(tmpdir(), 'w1mqtt-mosquitto-data-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ticker = changingTemperatures(ws.w1);
  t.after(() => ticker.stop());
  const clientId = `w1mqtt-test-${randomBytes(4).toString('hex')}`;
  const stateDir = join(ws.dir, 'state');
  let mosquitto = await startMosquitto({ dataDir, acl: extra.acl });
  const port = mosquitto.port;
  t.after(() => mosquitto.stop());
  const proxy = extra.proxy ? await startProxy(port) : undefined;
  if (proxy) t.after(() => proxy.close());
  const sensors = Object.entries(SENSORS).map(([id, topic]) => `  ${id}: ${topic}`).join('\n');
  const configFile = await ws.writeConfig(
    `mqtt:\n  url: ${proxy?.url ?? mosquitto.url}\n  client_id: ${clientId}\n  payload: ${extra.payload}\n  decimals: 4\n${extra.mqtt ?? ''}` +
      `sources:\n  - type: w1\n    path: ${ws.w1}\ninterval: 1s\nunmapped: ignore\nstate_dir: ${stateDir}\n${extra.yaml ?? ''}sensors:\n${sensors}\n`,
  );
  const sub = await subscribe({ port, topics: ['test/#'], clientId: `${clientId}-sub` });
  t.after(() => sub.stop());
  const agents: AgentProcess[] = [];
  const o: Outage = {
    dir: ws.dir,
    stateDir,
    configFile,
    clientId,
    mosquitto,
    sub,
    proxy,
    agents,
    async startAgent() {
      const agent = startCli(['run', '--config', configFile]);
      t.after(() => agent.stop('SIGKILL'));
      agents.push(agent);
      await agent.waitForLog((l) => l['msg'] === 'running', 20_000);
      return agent;
    },
    async stopBroker() {
      await mosquitto.stop();
    },
    async startBroker() {
      mosquitto = o.mosquitto = await startMosquitto({ port, dataDir, acl: extra.acl });
    },
    produced: () => agents.flatMap((a) => a.logs.filter((l) => l['msg'] === 'reading').map((l) => ({ topic: String(l['topic']), payload: String(l['payload']) }))),
    received: () => sub.retainedLines.filter((m) => !m.topic.endsWith('/availability')).map((m) => ({ topic: m.topic, payload: m.payload })),
    queueFiles: async () => (await readdir(join(stateDir, 'outbox')).catch(() => [])).filter((f) => f.endsWith('.queue')),
    async onDisk() {
      const files = (await o.queueFiles()).sort();
      const contents = await Promise.all(files.map((f) => readFile(join(stateDir, 'outbox', f)).catch(() => Buffer.alloc(0))));
      return contents.flatMap((data) => decodeLines(data, messageShape).records.map((m) => ({ topic: m.topic, payload: m.payload })));
    },
    async allReceived(ms = 30_000) {
      let missing: Reading[] = [];
      const arrived = (): Reading[] | undefined => {
        const got = new Set(o.received().map(key));
        const produced = o.produced();
        missing = produced.filter((r) => !got.has(key(r)));
        return missing.length === 0 ? produced : undefined;
      };
      return waitFor(() => `every reading; ${missing.length} never arrived, e.g. ${JSON.stringify(missing.slice(0, 3))}`, arrived, ms, 100);
    },
  };
  return o;
}

export const key = (r: Reading): string => `${r.topic} ${r.payload}`;

/** Per topic: the received readings, duplicates removed, in the order they first arrived. */
export function firstArrivals(received: readonly Reading[]): Map<string, string[]> {
  const seen = new Set<string>();
  const byTopic = new Map<string, string[]>();
  for (const r of received) {
    if (seen.has(key(r))) continue;
    seen.add(key(r));
    byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r.payload]);
  }
  return byTopic;
}

export function byTopic(readings: readonly Reading[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of readings) out.set(r.topic, [...(out.get(r.topic) ?? []), r.payload]);
  return out;
}

/** Rewrite each sensor's w1_slave every 250 ms with a new temperature (+1/16 °C a step, 800 steps, then again). */
function changingTemperatures(w1: string): { stop(): void } {
  let step = 0;
  let stopped = false;
  const run = async (): Promise<void> => {
    while (!stopped) {
      step++;
      for (const name of Object.keys(SENSORS)) {
        const id = parseDeviceId(name);
        if (!id) continue;
        // Up and down between 10 and 60 °C, a new value each step for 800 steps; written whole (rename), never half.
        const bytes = encodeScratchpad(id.family, 10_000 + (step % 800) * 62.5, { resolution: 12 });
        const file = join(w1, name, 'w1_slave');
        await writeFile(`${file}.tmp`, formatW1Slave(bytes, kernelMilli(id.family, bytes)))
          .then(() => rename(`${file}.tmp`, file))
          .catch(() => undefined);
      }
      await sleep(250);
    }
  };
  void run();
  return { stop: () => void (stopped = true) };
}
