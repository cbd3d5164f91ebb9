import type { BusCounters, SimFault } from './bus-model.js';
import type { SimBusSpec } from './sim-tree.js';

/** Messages between BusSimulator (parent) and sim-child.ts over the IPC channel. */

export interface SimInit {
  readonly type: 'init';
  /** The directory to fill: what a w1 source is pointed at (`…/devices`). */
  readonly devices: string;
  /** Where spare FIFOs wait (same filesystem as `devices`). */
  readonly stockDir: string;
  readonly buses: readonly SimBusSpec[];
  readonly tReadMs: number;
  readonly refuseTrigger: boolean;
  readonly driftMs?: number;
}

export type SimCommand = { readonly id: number } & (
  | { readonly type: 'set'; readonly name: string; readonly milli: number }
  | { readonly type: 'fault'; readonly name: string; readonly kind: SimFault | 'none'; readonly count?: number }
  | { readonly type: 'remove'; readonly name: string }
  | { readonly type: 'restore'; readonly name: string }
  | { readonly type: 'stats' }
  | { readonly type: 'stop' }
);

export type SimReply = { readonly id: number; readonly ok: true; readonly result?: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

export interface BusStats extends BusCounters {
  readonly name: string;
  /** Reads (and a trigger) in progress or waiting for the bus when the stats were taken. */
  readonly queued: number;
  /** Reads served per sensor name. */
  readonly reads: Readonly<Record<string, number>>;
}

export interface SimStats {
  readonly buses: readonly BusStats[];
}
