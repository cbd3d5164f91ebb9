import type { EventEmitter } from 'node:events';
import type { Config } from '../config/schema.js';
import type { SensorAvailability } from '../health/availability.js';
import type { FaultTracker } from '../health/fault-tracker.js';
import type { Logger } from '../log.js';
import type { Route } from '../mqtt/route.js';
import type { Device } from '../readings/device.js';
import type { Scheduler, ScheduledSensor } from '../sampling/scheduler.js';
import type { SourceSet } from '../sources/source-set.js';
import type { Clock } from '../system/clock.js';
import type { AgentEvents } from './events.js';
import { sameListing, type Listing } from './listing.js';
import { planSensors } from './plan.js';
import type { Publication } from './publication.js';
import { replan } from './replan.js';

export interface DiscoveryCycleOptions {
  readonly log: Logger;
  readonly clock: Clock;
  readonly config: () => Config;
  /** Read at each pass: a reload may replace the sources. */
  readonly sources: () => SourceSet;
  readonly faults: FaultTracker;
  readonly availability: SensorAvailability;
  readonly publication: Publication;
  readonly scheduler: Scheduler;
  readonly events: EventEmitter<AgentEvents>;
}

/**
 * Lists every source and re-plans: new devices start polling, vanished ones stop, and
 * per-sensor state (faults, availability) follows each sensor to its new topic or id.
 * Holds the plan in force: each polled measurement's route and its schedule, by key.
 */
export class DiscoveryCycle {
  readonly #o: DiscoveryCycleOptions;
  #routes = new Map<string, Route>();
  #scheduled = new Map<string, ScheduledSensor>();
  #found: { source: string; device: Device }[] = [];
  #missingLogged = new Set<string>();
  /** What the last full pass planned from: an unchanged listing under the same config plans the same. */
  #planned: { readonly config: Config; readonly found: Listing } | undefined;
  #running: Promise<void> | undefined;
  #last = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: DiscoveryCycleOptions) {
    this.#o = options;
  }

  /** One pass; a call while one runs joins it. */
  run(): Promise<void> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      this.#last = this.#o.clock.now();
    });
    return this.#running;
  }

  /** The pass in progress, if any: one that may have listed sources since replaced. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Clock time the last pass ended. */
  get last(): number {
    return this.#last;
  }

  every(ms: number): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.run(), ms);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  route(key: string): Route | undefined {
    return this.#routes.get(key);
  }

  scheduled(key: string): ScheduledSensor | undefined {
    return this.#scheduled.get(key);
  }

  routes(): Route[] {
    return [...this.#routes.values()];
  }

  /** Every device the sources listed last time, polled or not. */
  devices(): readonly { source: string; device: Device }[] {
    return this.#found;
  }

  async #run(): Promise<void> {
    const { log, faults, availability, publication, clock } = this.#o;
    const found = await this.#o.sources().list();
    const config = this.#o.config();
    if (this.#planned?.config === config && sameListing(this.#planned.found, found)) return;
    this.#planned = { config, found };
    this.#found = found.flatMap((f) => f.devices.map((device) => ({ source: f.source.name, device })));
    const plan = planSensors(config, found);
    for (const s of plan.routes) {
      if (!this.#routes.has(s.key)) log.info({ sensor: s.displayId, chip: s.device.chip, bus: s.device.bus, topic: s.topic, intervalMs: s.intervalMs }, 'sensor found');
    }
    const present = new Set(found.flatMap((f) => f.devices.map((d) => d.id.sysfs)));
    const changes = replan(this.#routes, plan.routes, present);
    for (const s of changes.dropped) {
      log.info({ sensor: s.displayId, topic: s.topic }, 'sensor no longer polled (sensors.yaml)');
      faults.forget(s.displayId);
      availability.forget(s.key);
    }
    const vanished = new Set<string>();
    for (const s of changes.vanished) {
      const id = s.device.id.sysfs;
      if (s.measurement.quantity === 'presence') publication.presence(s, false, clock.now()); // an iButton taken away
      else if (!vanished.has(id)) log.warn({ sensor: s.displayId.split('/')[0], bus: s.device.bus }, 'sensor vanished from its bus');
      vanished.add(id);
      faults.forget(s.displayId);
      // A presence measurement says `offline` on its own topic; the others on their availability topic.
      if (s.measurement.quantity !== 'presence') publication.availability(s, availability.vanished(s.key));
    }
    for (const { from, to } of changes.renamed) faults.rename(from, to);
    for (const { sensor } of changes.moved) {
      if (sensor.measurement.quantity !== 'presence') publication.availability(sensor, availability.state(sensor.key));
    }
    for (const id of plan.missing) {
      if (!this.#missingLogged.has(id)) log.warn({ sensor: id }, 'sensor listed in sensors.yaml is not on any bus');
    }
    for (const absent of plan.absent) publication.presence(absent, false, clock.now());
    this.#missingLogged = new Set(plan.missing);
    const scheduled = new Map(plan.scheduled.map((s) => [s.key, s]));
    const changed = plan.routes.length !== this.#routes.size || plan.routes.some((r) => !sameSensor(this.#routes.get(r.key), r) || this.#scheduled.get(r.key)?.source !== scheduled.get(r.key)?.source);
    this.#routes = new Map(plan.routes.map((r) => [r.key, r]));
    this.#scheduled = scheduled;
    this.#o.scheduler.setSensors(plan.scheduled);
    if (changed) this.#o.events.emit('plan', plan.routes);
  }
}

function sameSensor(a: Route | undefined, b: Route): boolean {
  return a !== undefined && a.topic === b.topic && a.intervalMs === b.intervalMs && a.offset === b.offset && a.label === b.label && a.device.bus === b.device.bus && a.queue === b.queue;
}
