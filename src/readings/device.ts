import { thermometerFamily } from './families.js';
import { deviceKind, type Measurement } from './kinds.js';

/**
 * One 1-Wire ROM id, in both notations.
 *
 * The kernel names a slave `"%02x-%012llx"` over the little-endian 48-bit serial
 * (drivers/w1/w1.c `__w1_attach_slave_device`), so the serial bytes come out most
 * significant first: `28-0316a2792dff`. OWFS prints the bytes in wire order, upper
 * case: `28.FF2D79A21603`. Both name the same chip.
 */
export interface DeviceId {
  /** Family code, two lowercase hex digits. */
  readonly family: string;
  /** Sysfs notation, e.g. `28-0316a2792dff`: the canonical key inside the agent. */
  readonly sysfs: string;
  /** OWFS notation, e.g. `28.FF2D79A21603`. */
  readonly owfs: string;
  /** The 8 ROM bytes in wire order (family, serial LSB first, CRC). */
  readonly rom: Uint8Array;
}

/** A device a source can see. */
export interface Device {
  readonly id: DeviceId;
  /** The id in the source's own notation (`28-…` for sysfs, `28.…` for OWFS). */
  readonly name: string;
  /** Bus key, unique across sources: reads on one bus are serialised. */
  readonly bus: string;
  /** Chip name from the family code. */
  readonly chip: string;
  /** True when the sensor reports parasite power (w1 `ext_power` = 0); unknown → absent. */
  readonly parasite?: boolean;
  /**
   * Which measurement read() takes, set by the plan for kinds other than the DS18x20
   * (readings/kinds.ts). Absent: the kind's main one, for a DS18x20 its temperature.
   */
  readonly measurement?: Measurement;
}

/**
 * What a source's read() of this device reads: the measurement the plan put on it, else
 * the kind's main one. Undefined for a DS18x20, whose read goes the thermometer way
 * (w1_slave with its scratchpad checks, OWFS `temperature`): its faults are its own.
 */
export function measurementToRead(device: Device): Measurement | undefined {
  if (device.measurement) return device.measurement;
  if (thermometerFamily(device.id.family)) return undefined;
  return deviceKind(device.id.family)?.measurements[0];
}

/** The device as the plan hands it to read(): DS18x20s unchanged, others with their measurement. */
export function readTarget(device: Device, measurement: Measurement): Device {
  if (measurement.w1.kind === 'w1_slave') return device;
  return { ...device, measurement };
}
