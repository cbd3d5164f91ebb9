import { thermometerFamily } from '../readings/families.js';
import { COUNT_REMAIN_POWER_ON, encodeScratchpad, formatW1Slave, kernelMilli, type Resolution } from '../onewire/scratchpad-encode.js';
import { crc8 } from '../onewire/crc8.js';

/**
 * The timing and state of one simulated w1 bus master, following drivers/w1/slaves/w1_therm.c.
 * No files and no FIFOs here (see fifo-file.ts): callers hand in a read or a trigger and get
 * the answer once the simulated bus time has passed. The model is written down in TIMING.md.
 */

export type SimFault = 'empty' | 'crc' | 'power_on' | 'insufficient_power';

export interface SimSensor {
  readonly name: string;
  readonly family: string;
  resolution: Resolution;
  /** What the sensor measures now, in m°C. */
  milli: number;
  /** `ext_power`: false = parasite powered. */
  readonly external: boolean;
  /** SLAVE_CONVERT_TRIGGERED: 0 none, -1 bulk conversion running, 1 converted and not yet read. */
  convertTriggered: 0 | -1 | 1;
  /** The value latched by the last bulk conversion (read back while convertTriggered = 1). */
  latched: number;
  fault: { kind: SimFault; remaining: number } | undefined;
  reads: number;
}

export interface BusCounters {
  /** Conversions a single read started (convert_t). */
  singleConversions: number;
  /** Accepted `trigger\n` writes (trigger_bulk_read). */
  bulkConversions: number;
  /** Reads answered from a bulk conversion (read_scratchpad only). */
  fastReads: number;
  /** Writes to therm_bulk_read that were not exactly "trigger\n" (the kernel logs err=-22). */
  rejectedTriggers: number;
  /** Most reads ever waiting at once for this bus (kernel: threads asleep on bus_mutex). */
  maxQueued: number;
  /** Time the bus mutex was held, ms (the sum of the simulated costs). */
  busyMs: number;
  /** How late this process handed answers over, summed, ms (timer wake-ups, a busy CPU): not bus time, overhead of the simulation. */
  lateMs: number;
  /** The latest answer, ms after its due moment. */
  maxLateMs: number;
}

export interface Timer {
  now(): number;
  /** Resolves at `deadline` (same time base as now()), as precisely as it can. */
  until(deadline: number): Promise<void>;
}

/** w1_DS18B20_convert_time / w1_DS18S20_convert_time: datasheet defaults in ms. */
export function convTimeMs(family: string, resolution: Resolution): number {
  if (family === '10') return 750;
  return { 9: 95, 10: 190, 11: 375, 12: 750 }[resolution];
}

export class BusModel {
  readonly name: string;
  readonly sensors = new Map<string, SimSensor>();
  readonly counters: BusCounters = { singleConversions: 0, bulkConversions: 0, fastReads: 0, rejectedTriggers: 0, maxQueued: 0, busyMs: 0, lateMs: 0, maxLateMs: 0 };
  readonly #timer: Timer;
  readonly #tReadMs: number;
  #mutex: Promise<void> = Promise.resolve();
  #queued = 0;
  /** Bus clock: when the last transaction handed to the bus ends (timer time base). */
  #busFreeAt = Number.NEGATIVE_INFINITY;
  /** Settles when the trigger being received (and its conversion, if accepted) is over. */
  #incoming: Promise<void> | undefined;

  constructor(name: string, timer: Timer, tReadMs: number) {
    this.name = name;
    this.#timer = timer;
    this.#tReadMs = tReadMs;
  }

  /**
   * One read of `w1_slave` (or `temperature`): resolves with the file's text at the moment
   * the bus would have finished it. `arrival` is when the reader showed up (the simulator's
   * first sight of its open()); the read's bus time starts then, or when the bus comes free.
   */
  async read(sensorName: string, file: 'w1_slave' | 'temperature', arrival: number = this.#timer.now()): Promise<string> {
    this.beforeRead(arrival);
    const sensor = this.sensors.get(sensorName);
    if (!sensor) return '';
    // w1_slave_show: while SLAVE_CONVERT_TRIGGERED < 0 the kernel returns 0 bytes at once. But
    // a FIFO write cannot block the way the kernel's trigger write does (the writer is already
    // past it), so a read that comes during a trigger waits for the conversion to end instead.
    if (this.#incoming) await this.#incoming;
    return this.#withBus(arrival, () => {
      sensor.reads++;
      let milli = sensor.milli;
      let cost = this.#tReadMs;
      if (sensor.convertTriggered === 1) {
        // w1_slave_show: "A bulk read has been issued, read the device RAM" → read_scratchpad only.
        milli = sensor.latched;
        sensor.convertTriggered = 0;
        this.counters.fastReads++;
      } else {
        // convert_t: CONVERT T, sleep conv_time under bus_mutex (6.x), then read_scratchpad.
        cost += convTimeMs(sensor.family, sensor.resolution);
        this.counters.singleConversions++;
      }
      // Rendered now (the value is fixed when the transaction starts), handed over at its end.
      return { cost, result: render(sensor, milli, file) };
    });
  }

  /** Reads and triggers in progress or waiting for the bus right now. */
  get queued(): number {
    return this.#queued;
  }

  /** Called before each read (with its arrival): lets a trigger written just before it be seen first. */
  beforeRead: (arrival: number) => void = () => {};

  /**
   * Bytes written to `therm_bulk_read`. therm_bulk_read_store acts only on a write of exactly
   * "trigger\n" (size == sizeof("trigger")); anything else is logged (err=-22) and ignored,
   * and the writer still sees success. Writes that reach the pipe together are told apart
   * by the "trigger\n" they contain; what is left over counts as one rejected write.
   * `seen` is when the simulator found the bytes (the writer wrote them at or before then).
   */
  write(text: string, seen: number = this.#timer.now()): void {
    const triggers = text.split('trigger\n');
    const rest = triggers.join('');
    for (let i = 1; i < triggers.length; i++) this.#startTrigger(seen);
    if (rest.length > 0) this.counters.rejectedTriggers++;
  }

  /**
   * trigger_bulk_read: t_conv = the longest conversion of the bulk-capable slaves, bus_mutex,
   * SKIP ROM + CONVERT T, flags -1, sleep t_conv, flags 1. Reads that arrive meanwhile wait
   * for it (see read()). Returns false when no slave can take part ("If its 0, no device
   * support the bulk read feature").
   */
  #startTrigger(seen: number): boolean {
    const bulk = [...this.sensors.values()].filter((s) => thermometerFamily(s.family)?.bulkRead === true);
    const tConv = Math.max(0, ...bulk.map((s) => convTimeMs(s.family, s.resolution)));
    if (tConv === 0) return false;
    this.counters.bulkConversions++;
    // Each sensor samples when CONVERT T goes out, as a single read does at its start.
    const incoming = this.#withBus(
      seen,
      () => {
        for (const s of bulk) {
          s.convertTriggered = -1;
          s.latched = s.milli;
        }
        return { cost: tConv, result: undefined };
      },
      () => {
        for (const s of bulk) s.convertTriggered = 1;
      },
    );
    this.#incoming = incoming;
    void incoming.then(() => {
      if (this.#incoming === incoming) this.#incoming = undefined;
    });
    return true;
  }

  /**
   * The bus mutex: one transaction at a time, in arrival order (kernel mutexes are FIFO-ish),
   * timed on a bus clock rather than by when this process gets round to it: a transaction
   * starts at max(its arrival, the end of the one before) and ends `cost` later, whenever
   * the previous answer actually went out. `begin` runs at the start (decides the cost and
   * the answer), `end` at the end, just before the answer is handed over.
   */
  async #withBus<T>(arrival: number, begin: () => { cost: number; result: T }, end?: () => void): Promise<T> {
    this.#queued++;
    this.counters.maxQueued = Math.max(this.counters.maxQueued, this.#queued);
    const previous = this.#mutex;
    let release!: () => void;
    this.#mutex = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      const start = Math.max(arrival, this.#busFreeAt);
      const { cost, result } = begin();
      const deadline = start + cost;
      this.#busFreeAt = deadline;
      this.counters.busyMs += cost;
      await this.#timer.until(deadline);
      end?.();
      const late = this.#timer.now() - deadline;
      this.counters.lateMs += late;
      this.counters.maxLateMs = Math.max(this.counters.maxLateMs, late);
      return result;
    } finally {
      this.#queued--;
      release();
    }
  }
}

/** The file text for a read, with an injected fault applied (each fault counts down per read). */
function render(sensor: SimSensor, milli: number, file: 'w1_slave' | 'temperature'): string {
  const fault = sensor.fault;
  if (fault) {
    fault.remaining--;
    if (fault.remaining <= 0) sensor.fault = undefined;
  }
  const kind = fault?.kind;
  // Kernels ≥ 5.8 return 0 bytes on any failure (w1_slave_show: `if (ret < 0) return 0`).
  if (kind === 'empty') return '';
  if (kind === 'crc') {
    // The pre-5.8 form: fresh bytes all ff with `NO`, line 2 the last good scratchpad, t=-62.
    if (file === 'temperature') return '';
    const bad = new Uint8Array(9).fill(0xff);
    return formatW1Slave(bad, kernelMilli(sensor.family, bad, { legacy: true }), { crcOk: false, secondLineBytes: scratchpad(sensor, milli) });
  }
  const bytes = kind === 'power_on' ? powerOnScratchpad(sensor.family) : kind === 'insufficient_power' ? insufficientPower(sensor.family) : scratchpad(sensor, milli);
  const t = kernelMilli(sensor.family, bytes);
  return file === 'temperature' ? `${t}\n` : formatW1Slave(bytes, t);
}

function scratchpad(sensor: SimSensor, milli: number): Uint8Array {
  return encodeScratchpad(sensor.family, milli, sensor.family === '10' ? {} : { resolution: sensor.resolution });
}

/** DS18B20 datasheet: the power-on register is +85 °C with COUNT_REMAIN 0x0c. */
function powerOnScratchpad(family: string): Uint8Array {
  if (family !== '10') return encodeScratchpad(family, 85_000, { countRemain: COUNT_REMAIN_POWER_ON });
  return withCrc([0xaa, 0x00, 0x4b, 0x46, 0xff, 0xff, COUNT_REMAIN_POWER_ON, 0x10]); // DS18S20: 0x00aa = 85 °C
}

/** 0x07ff = 127.9375 °C: what a DS18B20 shows when the conversion lacked current. */
function insufficientPower(family: string): Uint8Array {
  if (family === '10') return powerOnScratchpad(family);
  return withCrc([0xff, 0x07, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10]);
}

function withCrc(first8: number[]): Uint8Array {
  const bytes = new Uint8Array(9);
  bytes.set(first8);
  bytes[8] = crc8(bytes.subarray(0, 8));
  return bytes;
}
