import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDeviceId } from '../onewire/ids.js';
import { BusModel, type SimFault, type SimSensor, type Timer } from './bus-model.js';
import { CommandFifo, FifoFile, FifoStock } from './fifo-file.js';
import type { SimCommand, SimInit, SimReply, SimStats } from './protocol.js';
import { masterName, removeSlave, writeSlave, writeTree, type SimSensorSpec } from './sim-tree.js';
import { errText } from '../system/err-text.js';

/**
 * The simulated kernel, in a process of its own: every FIFO waiting for a reader holds one
 * libuv thread, which must not come out of the pool of the agent being measured. Driven by
 * BusSimulator (bus-simulator.ts) over the IPC channel.
 */

/** Wall-clock deadlines met to well under a millisecond: a timer for the bulk of the wait, then spin. */
const timer: Timer = {
  now: () => performance.now(),
  until: async (deadline) => {
    const left = deadline - performance.now();
    if (left > 2) await sleep(left - 1.5);
    while (performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  },
};

interface Placed {
  readonly bus: BusModel;
  readonly master: string;
  readonly spec: SimSensorSpec;
  files: FifoFile[];
}

let init: SimInit;
let stock: FifoStock;
const buses: BusModel[] = [];
const sensors = new Map<string, Placed>();
const masterFifos: CommandFifo[] = [];
let driftTimer: NodeJS.Timeout | undefined;

async function start(message: SimInit): Promise<void> {
  init = message;
  stock = new FifoStock(message.stockDir);
  const fileCount = message.buses.reduce((n, b) => n + 2 * b.sensors.length + 1, 0);
  await stock.start(fileCount + 512);
  await writeTree(message.devices, message.buses);
  for (const [index, spec] of message.buses.entries()) {
    const master = masterName(index);
    const bus = new BusModel(master, timer, message.tReadMs);
    buses.push(bus);
    for (const sensor of spec.sensors) await addSensor(bus, master, sensor, false);
    // therm_bulk_read is 0644 root-only on a real kernel; `refuseTrigger` makes it 0444 (EACCES for non-root).
    const trigger = new CommandFifo(join(message.devices, master, 'therm_bulk_read'), stock, (text, seen) => bus.write(text, seen), message.refuseTrigger ? 0o444 : 0o644);
    await trigger.start();
    bus.beforeRead = (arrival) => trigger.drain(arrival);
    masterFifos.push(trigger);
  }
  if (message.driftMs !== undefined) driftTimer = setInterval(drift, message.driftMs);
}

async function addSensor(bus: BusModel, master: string, spec: SimSensorSpec, writeDir: boolean): Promise<void> {
  const id = parseDeviceId(spec.name);
  if (!id) throw new Error(`not a 1-Wire id: ${spec.name}`);
  if (writeDir) await writeSlave(init.devices, master, spec);
  const sensor: SimSensor = {
    name: spec.name,
    family: id.family,
    resolution: spec.resolution ?? 12,
    milli: spec.milli ?? 20_000,
    external: spec.external ?? true,
    convertTriggered: 0,
    latched: 0,
    fault: undefined,
    reads: 0,
  };
  bus.sensors.set(spec.name, sensor);
  const dir = join(init.devices, master, spec.name);
  const files = (['w1_slave', 'temperature'] as const).map((file) => new FifoFile(join(dir, file), stock, (arrival) => bus.read(spec.name, file, arrival)));
  for (const f of files) await f.start();
  sensors.set(spec.name, { bus, master, spec, files });
}

let step = 0;
/** Slow waves around each sensor's starting value, in 1/16 °C steps (for the demo). */
function drift(): void {
  step++;
  let phase = 0;
  for (const { bus, spec } of sensors.values()) {
    const s = bus.sensors.get(spec.name);
    if (!s) continue;
    const wave = Math.sin((step + phase++ * 3) / 6) * 1500;
    s.milli = Math.round(((spec.milli ?? 20_000) + wave) / 62.5) * 62.5;
  }
}

function sensorOf(name: string): { placed: Placed; sensor: SimSensor } {
  const placed = sensors.get(name);
  const sensor = placed?.bus.sensors.get(name);
  if (!placed || !sensor) throw new Error(`no such sensor on the simulated bus: ${name}`);
  return { placed, sensor };
}

async function handle(command: SimCommand): Promise<unknown> {
  // Whatever was written to therm_bulk_read before this command counts first.
  for (const f of masterFifos) f.drain();
  switch (command.type) {
    case 'set':
      sensorOf(command.name).sensor.milli = command.milli;
      return undefined;
    case 'fault': {
      const { sensor } = sensorOf(command.name);
      sensor.fault = command.kind === 'none' ? undefined : { kind: command.kind satisfies SimFault, remaining: command.count ?? Number.POSITIVE_INFINITY };
      return undefined;
    }
    case 'remove': {
      const { placed } = sensorOf(command.name);
      placed.bus.sensors.delete(command.name);
      await Promise.all(placed.files.map((f) => f.close(undefined)));
      await removeSlave(init.devices, placed.master, command.name);
      sensors.delete(command.name);
      return undefined;
    }
    case 'restore': {
      const index = init.buses.findIndex((b) => b.sensors.some((s) => s.name === command.name));
      const spec = init.buses[index]?.sensors.find((s) => s.name === command.name);
      const bus = buses[index];
      if (!spec || !bus || sensors.has(command.name)) throw new Error(`cannot restore ${command.name}`);
      await addSensor(bus, masterName(index), spec, true);
      return undefined;
    }
    case 'stats':
      return stats();
    case 'stop':
      clearInterval(driftTimer);
      for (const f of masterFifos) f.close();
      await Promise.all([...sensors.values()].flatMap((p) => p.files).map((f) => f.close('')));
      stock.stop();
      return undefined;
  }
}

function stats(): SimStats {
  return {
    buses: buses.map((bus) => ({
      name: bus.name,
      ...bus.counters,
      queued: bus.queued,
      reads: Object.fromEntries([...bus.sensors.values()].map((s) => [s.name, s.reads])),
    })),
  };
}

process.on('message', (message: SimInit | SimCommand) => {
  const send = (reply: SimReply): void => void process.send?.(reply);
  if (message.type === 'init') {
    start(message).then(
      () => send({ id: 0, ok: true }),
      (err: unknown) => send({ id: 0, ok: false, error: errText(err) }),
    );
    return;
  }
  handle(message).then(
    (result) => send({ id: message.id, ok: true, result }),
    (err: unknown) => send({ id: message.id, ok: false, error: errText(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
