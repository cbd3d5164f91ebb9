import type { EventEmitter } from 'node:events';
import { diffConfig, hasChanges, needsNewConnection, type ConfigDiff } from '../config/diff.js';
import type { Config } from '../config/schema.js';
import type { SensorAvailability } from '../health/availability.js';
import type { Logger } from '../log.js';
import { availabilityTopic } from '../mqtt/topics.js';
import type { Outbox } from '../outbox/outbox.js';
import type { SourceSet } from '../sources/source-set.js';
import type { Connection } from './connection.js';
import type { DiscoveryCycle } from './discovery-cycle.js';
import type { AgentEvents } from './events.js';
import type { Extras } from './extras.js';
import type { Publication } from './publication.js';
import { retiredTopics } from './retire.js';
import { clearRetained } from './transport.js';

/** The running agent's parts a live reload changes. */
export interface ReloadContext {
  readonly log: Logger;
  /** The config in force until `adopt`. */
  readonly config: Config;
  readonly stopping: boolean;
  readonly connection: Connection | undefined;
  readonly outbox: Outbox | undefined;
  readonly extras: Extras | undefined;
  readonly publication: Publication;
  readonly availability: SensorAvailability;
  readonly discovery: DiscoveryCycle;
  readonly events: EventEmitter<AgentEvents>;
  /** Make `next` the config in force. */
  adopt(next: Config): void;
  /** Put the sources `next` names in place; resolves with the ones they replace, to close. */
  replaceSources(next: Config): Promise<SourceSet>;
}

/**
 * Live reload: apply `next` in place. Known sensors keep their schedule, so the
 * others' readings go on; only a changed connection is rebuilt (see config/diff.ts).
 * Rejects, still running the previous config, when the new connection cannot be made.
 */
export async function applyReload(ctx: ReloadContext, next: Config): Promise<ConfigDiff> {
  const { connection, publication, discovery, log } = ctx;
  const before = ctx.config;
  const diff = diffConfig(before, next);
  if (!hasChanges(diff) || ctx.stopping || !connection?.publisher) return diff;
  const retired = retiredOnReload(ctx, next);
  const reconnect = needsNewConnection(diff);
  // Held readings go out under the routes in force once the connection is settled.
  const release = (): void => publication.release((key) => discovery.route(key));
  // The bundled broker re-reads users, ACLs and limits, or restarts on new listeners;
  // the agent's client stays on the broker's socket and reconnects by itself.
  if (next.mqtt.url === undefined && before.mqtt.url === undefined && connection.broker) await connection.broker.apply(next.broker);
  if (reconnect) {
    publication.hold();
    const error = await connection.replace(before, next, diff.broker, retired).catch((err: unknown) => {
      release(); // not even the previous connection could be made again
      throw err;
    });
    if (connection.publisher) ctx.outbox?.setLink(connection.publisher);
    ctx.extras?.reattach();
    if (error) {
      release();
      throw error;
    }
  }
  ctx.adopt(next);
  ctx.availability.setThreshold(next.unavailable_after);
  if (diff.settings.includes('log_level')) log.level = next.log_level ?? process.env['LOG_LEVEL'] ?? 'info';
  const oldSources = diff.sources ? await ctx.replaceSources(next) : undefined;
  // A discovery already running may have listed the old sources: wait for it, then look again.
  await discovery.running;
  await discovery.run();
  release();
  await oldSources?.close();
  for (const topic of retired) publication.forget(topic);
  if (!reconnect) await clearRetained(connection.publisher, retired, log);
  ctx.events.emit('reload', next);
  return diff;
}

/**
 * The topics a reload leaves behind, to clear. A reading's only when readings are
 * retained; an availability topic's always (it is always retained), and every one
 * when `unavailable_after` turns availability off.
 */
function retiredOnReload(ctx: ReloadContext, next: Config): string[] {
  const routes = ctx.discovery.routes();
  const readings = retiredTopics(routes, next);
  const availability = !ctx.availability.enabled ? [] : next.unavailable_after > 0 ? readings : routes.map((s) => s.topic);
  return [...(ctx.config.mqtt.retain ? readings : []), ...availability.map(availabilityTopic)];
}
