import type { DeviceId } from '../readings/device.js';
import { crc8 } from './crc8.js';


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
