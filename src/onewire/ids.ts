import { crc8 } from './crc8.js';

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

const SYSFS_RE = /^([0-9a-f]{2})-([0-9a-f]{12})$/i;
// OWFS also accepts `28FF2D79A21603` and a trailing `.CRC` on input (owfs addressing.3so).
const OWFS_RE = /^([0-9a-f]{2})\.?([0-9a-f]{12})(?:\.?[0-9a-f]{2})?$/i;

function reverseHexBytes(hex: string): string {
  return (hex.match(/../g) ?? []).reverse().join('');
}

function fromParts(family: string, wireSerial: string): DeviceId {
  const fam = family.toLowerCase();
  const wire = wireSerial.toLowerCase();
  const romNoCrc = Buffer.from(fam + wire, 'hex');
  const rom = new Uint8Array(8);
  rom.set(romNoCrc);
  rom[7] = crc8(romNoCrc);
  return {
    family: fam,
    sysfs: `${fam}-${reverseHexBytes(wire)}`,
    owfs: `${fam}.${wire}`.toUpperCase(),
    rom,
  };
}

/** Parse either notation; undefined when the text is not a 1-Wire id. */
export function parseDeviceId(text: string): DeviceId | undefined {
  const trimmed = text.trim();
  const sys = SYSFS_RE.exec(trimmed);
  if (sys) return fromParts(sys[1] ?? '', reverseHexBytes(sys[2] ?? ''));
  const ow = OWFS_RE.exec(trimmed);
  if (ow) return fromParts(ow[1] ?? '', ow[2] ?? '');
  return undefined;
}

/** True for a kernel slave directory name (not `w1_bus_master1`). */
export function isSysfsSlaveName(name: string): boolean {
  return SYSFS_RE.test(name) && name === name.toLowerCase();
}

/** True for an OWFS device directory name in the default `f.i` format. */
export function isOwfsDeviceName(name: string): boolean {
  return /^[0-9A-F]{2}\.[0-9A-F]{12}$/.test(name);
}
