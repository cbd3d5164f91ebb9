import type { TestContext } from 'node:test';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { encodeScratchpad, formatW1Slave, kernelMilli } from '../../src/onewire/scratchpad-encode.js';
import { fixtureWorkspace, startCli, type AgentProcess } from './agent-process.js';
import { freePort } from './ports.js';

/** What the page must show for each good fixture sensor (fixtures/w1/README.md), at 2 decimals. */
export const GOOD_VALUES: Readonly<Record<string, string>> = {
  '28-0316a2792dff': '23.13',
  '28-0316a27a1c44': '25.06',
  '28-3c01d607e1a2': '-10.13',
  '28-3c01d6075b3e': '-0.06',
  '28-0000054c2ba1': '21.50',
  '10-000802b4a1c3': '22.06',
  '22-00000053e8a1': '19.50',
  '3b-0000001852ad': '30.25',
  '42-00000014a7e2': '18.06',
  // The DS2438 (its further measurements keyed <id>/<measurement>) and the DS2401.
  '26-000000019a3b': '21.84',
  '26-000000019a3b/humidity': '49.8',
  '26-000000019a3b/voltage': '2.35',
  '26-000000019a3b/vdd': '4.98',
  '01-0000efbeadde': 'online',
};

/** The faulty fixture sensors and the fault each must show. */
export const FAULTY: Readonly<Record<string, string>> = {
  '28-01192e4f6a10': 'power_on_reset',
  '28-01192e4f8b27': 'insufficient_power',
  '28-0000072d91f5': 'all_zero',
  '28-0000072d3e08': 'crc_mismatch',
  '28-0316a27b9d52': 'empty_read',
};

export interface WebAgent {
  readonly agent: AgentProcess;
  readonly webPort: number;
  readonly brokerPort: number;
  readonly stateDir: string;
  readonly w1: string;
  readonly dir: string;
  /** The config file, to start a second agent on the same workspace. */
  readonly configFile: string;
  /** Another agent on the same config (after this one stopped), stopped before the workspace goes. */
  again(): AgentProcess;
}

/**
 * The real agent (`w1mqtt run`) on a copy of the fixture bus, with the bundled
 * broker and the page on free loopback ports and its own state directory.
 * `web` and `extra` are merged into the config; stopped and cleaned up in t.after.
 */
export async function startWebAgent(t: TestContext, opts: { web?: Record<string, unknown>; extra?: Record<string, unknown>; waitForPage?: boolean } = {}): Promise<WebAgent> {
  const ws = await fixtureWorkspace();
  const agents: AgentProcess[] = [];
  // One hook, in this order: a stopping agent writes its history into the workspace.
  t.after(async () => {
    for (const a of agents) await a.stop();
    await ws.cleanup();
  });
  const webPort = await freePort();
  const brokerPort = await freePort();
  const stateDir = join(ws.dir, 'state');
  const config = {
    broker: { host: '127.0.0.1', port: brokerPort },
    sources: [{ type: 'w1', path: ws.w1 }],
    interval: '2s',
    state_dir: stateDir,
    web: { host: '127.0.0.1', port: webPort, ...opts.web },
    sensors: {
      '28-0316a2792dff': { topic: 'home/living-room/temperature', name: 'Living room' },
      '28.441C7AA21603': { topic: 'home/kitchen/temperature', name: 'Kitchen' },
      '28-01192e4f6a10': { topic: 'home/boiler/temperature', name: 'Boiler' },
    },
    ...opts.extra,
  };
  // JSON is YAML: the loader reads it like any sensors.yaml.
  const configFile = await ws.writeConfig(JSON.stringify(config, null, 2));
  const again = (): AgentProcess => {
    const a = startCli(['run', '--config', configFile], { env: { W1MQTT_LOG_FORMAT: 'json' } });
    agents.push(a);
    return a;
  };
  const agent = again();
  if (opts.waitForPage !== false) await agent.waitForLog((l) => l['module'] === 'web' && typeof l['url'] === 'string', 30_000);
  return { agent, webPort, brokerPort, stateDir, w1: ws.w1, dir: ws.dir, configFile, again };
}

/** Give a fixture sensor a new temperature the way the kernel would show it (atomic rename). */
export async function setFixtureTemperature(w1: string, sysfsId: string, milli: number): Promise<void> {
  const id = parseDeviceId(sysfsId);
  if (!id) throw new Error(`not an id: ${sysfsId}`);
  const bytes = encodeScratchpad(id.family, milli, id.family === '10' ? {} : { resolution: 12 });
  const file = join(w1, sysfsId, 'w1_slave');
  await writeFile(`${file}.tmp`, formatW1Slave(bytes, kernelMilli(id.family, bytes)));
  await rename(`${file}.tmp`, file);
}
