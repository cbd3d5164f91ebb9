import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost } from '../system/at-most.js';
import { packageRoot } from '../system/package-root.js';
import type { SimFault } from './bus-model.js';
import type { SimCommand, SimInit, SimReply, SimStats } from './protocol.js';
import { masterName, type SimBusSpec } from './sim-tree.js';

export type { SimFault } from './bus-model.js';
export type { BusStats, SimStats } from './protocol.js';
export { sensorNames, type SimBusSpec, type SimSensorSpec } from './sim-tree.js';

export interface BusSimulatorOptions {
  /** An empty directory to build the tree in; the w1 path is `<dir>/devices`. */
  readonly dir: string;
  readonly buses: readonly SimBusSpec[];
  /** Time to read a scratchpad after a bulk conversion (reset, MATCH ROM, 9 bytes), ms. @default 12 */
  readonly tReadMs?: number;
  /** Make `therm_bulk_read` mode 0444, as a kernel without the udev rule looks to a non-root agent. */
  readonly refuseTrigger?: boolean;
  /** Move every temperature a little this often (the demo). */
  readonly driftMs?: number;
}

/**
 * A kernel-faithful w1 bus (see TIMING.md) served as a real directory tree by a child
 * process: `w1_slave` and `temperature` are FIFOs whose reads block for the conversion
 * and the bus mutex, `therm_bulk_read` takes "trigger\n". Usable from tests, the bench
 * and `w1mqtt demo --realistic`. start() spawns it; stop() leaves plain empty files behind
 * (a late reader gets an empty read, never a hang) and ends the child.
 */
export class BusSimulator {
  readonly w1Path: string;
  readonly #opts: BusSimulatorOptions;
  #child: ChildProcess | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #exited: Promise<void> | undefined;

  constructor(options: BusSimulatorOptions) {
    this.#opts = options;
    this.w1Path = join(options.dir, 'devices');
  }

  /** The real directory of master `index` (0-based): the bus key a w1 source reports. */
  async masterPath(index: number): Promise<string> {
    return realpath(join(this.w1Path, masterName(index)));
  }

  async start(): Promise<void> {
    const files = this.#opts.buses.reduce((n, b) => n + 2 * b.sensors.length + 1, 0);
    // One thread per FIFO waiting for its reader (libuv's limit is 1024).
    if (files + 16 > 1024) throw new RangeError(`a simulator serves at most ${1024 - 16} files; asked for ${files}`);
    await mkdir(this.#opts.dir, { recursive: true });
    const ts = import.meta.url.endsWith('.ts');
    // Built, this code sits in a chunk of the bundle; the child is its own entry point.
    const child = fork(fileURLToPath(ts ? new URL('./sim-child.ts', import.meta.url) : new URL('dist/sim/sim-child.js', packageRoot())), [], {
      execArgv: ts ? ['--import', 'tsx'] : [],
      env: { ...process.env, UV_THREADPOOL_SIZE: String(files + 16) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (reply: SimReply) => {
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.result);
      else waiter?.reject(new Error(`bus simulator: ${reply.error}`));
    });
    void this.#exited.then(() => {
      for (const w of this.#pending.values()) w.reject(new Error('bus simulator exited'));
      this.#pending.clear();
    });
    const init: SimInit = {
      type: 'init',
      devices: this.w1Path,
      stockDir: join(this.#opts.dir, '.fifo-stock'),
      buses: this.#opts.buses,
      tReadMs: this.#opts.tReadMs ?? 12,
      refuseTrigger: this.#opts.refuseTrigger ?? false,
      ...(this.#opts.driftMs !== undefined && { driftMs: this.#opts.driftMs }),
    };
    await this.#request(0, init);
  }

  /** Change what a sensor measures (picked up by its next conversion). */
  async setTemperature(name: string, milli: number): Promise<void> {
    await this.#send({ type: 'set', name, milli });
  }

  /** Make the next `count` reads of a sensor fail this way (all of them when count is absent); 'none' clears. */
  async inject(name: string, kind: SimFault | 'none', count?: number): Promise<void> {
    await this.#send({ type: 'fault', name, kind, ...(count !== undefined && { count }) });
  }

  /** The sensor leaves the bus: its directory and symlink disappear (ENOENT). */
  async remove(name: string): Promise<void> {
    await this.#send({ type: 'remove', name });
  }

  /** A removed sensor comes back. */
  async restore(name: string): Promise<void> {
    await this.#send({ type: 'restore', name });
  }

  async stats(): Promise<SimStats> {
    return (await this.#send({ type: 'stats' })) as SimStats;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    try {
      await atMost(this.#send({ type: 'stop' }), 5_000);
    } catch {
      // already gone
    }
    child.kill('SIGTERM');
    await this.#exited;
  }

  #send(command: DistributiveOmit<SimCommand, 'id'>): Promise<unknown> {
    const id = this.#nextId++;
    return this.#request(id, { ...command, id } as SimCommand);
  }

  #request(id: number, message: SimInit | SimCommand): Promise<unknown> {
    const child = this.#child;
    if (!child?.connected) return Promise.reject(new Error('bus simulator is not running'));
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.send(message);
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
