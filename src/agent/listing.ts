import type { Device } from '../readings/device.js';

/** What one pass of discovery found: each source with the devices it listed. */
export type Listing = readonly { readonly source: unknown; readonly devices: readonly Device[] }[];

/**
 * Pure: whether two listings name the same devices, on the same buses, through the same
 * sources, in the same order. Under an unchanged config such a listing plans exactly as
 * the last one did, so discovery (every 10 s) can stop there: re-planning every sensor
 * was the larger part of an idle agent's work at 30 s intervals.
 */
export function sameListing(a: Listing | undefined, b: Listing): boolean {
  if (a === undefined || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    return y !== undefined && x.source === y.source && sameDevices(x.devices, y.devices);
  });
}

function sameDevices(a: readonly Device[], b: readonly Device[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  // The id, chip and kind follow from the name; what a listing may change besides is the bus and the power mode.
  return a.every((d, i) => {
    const e = b[i];
    return e !== undefined && d.name === e.name && d.bus === e.bus && d.parasite === e.parasite && d.measurement === e.measurement;
  });
}
