import { access } from 'node:fs/promises';
import { sourceSchema, type SourceConfig } from '../config/source-schema.js';
import { looksLikeOwfs, OwfsMountSource } from './owfs-mount.js';
import { OwserverSource, probeOwserver } from './owserver.js';
import type { Source } from './source.js';
import { W1SysfsSource } from './w1-sysfs.js';

type Factory<T extends SourceConfig['type']> = (config: Extract<SourceConfig, { type: T }>) => Source;

/** One line per source kind; adding a kind is one file and one entry here. */
const FACTORIES: { readonly [T in SourceConfig['type']]: Factory<T> } = {
  w1: (c) => new W1SysfsSource({ path: c.path }),
  owfs: (c) => new OwfsMountSource({ path: c.path, uncached: c.uncached }),
  owserver: (c) => new OwserverSource({ host: c.host, port: c.port, timeoutMs: c.timeout, uncached: c.uncached }),
};

export function createSource(config: SourceConfig): Source {
  const factory = FACTORIES[config.type] as Factory<typeof config.type>;
  return factory(config);
}

/** Where owserver listens on a stock system (Debian's owserver.socket). Loopback only: never probe the network. */
export const LOCAL_OWSERVER = { host: '127.0.0.1', port: 4304 } as const;

/**
 * Where each kind lives on a stock system, tried when sensors.yaml lists no sources.
 * An owserver that only simulates devices is left out (list it in sources: to read
 * it anyway). owserver comes before the mounts: a chip seen twice is read through the first
 * source, and the protocol tells "server down" from "sensor gone" where FUSE cannot.
 */
export async function detectSources(root = '', owserver: { host: string; port: number } = LOCAL_OWSERVER): Promise<SourceConfig[]> {
  const found: SourceConfig[] = [];
  const w1 = `${root}/sys/bus/w1/devices`;
  if (await exists(w1)) found.push({ type: 'w1', path: w1 });
  if ((await probeOwserver(owserver.host, owserver.port)) === 'hardware') found.push(sourceSchema.parse({ type: 'owserver', ...owserver }));
  for (const mount of [`${root}/mnt/1wire`, `${root}/run/owfs`]) {
    if (await looksLikeOwfs(mount)) found.push({ type: 'owfs', path: mount, uncached: true });
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
