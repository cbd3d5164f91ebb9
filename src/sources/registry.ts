import { access } from 'node:fs/promises';
import type { SourceConfig } from '../config/schema.js';
import { looksLikeOwfs, OwfsMountSource } from './owfs-mount.js';
import type { Source } from './source.js';
import { W1SysfsSource } from './w1-sysfs.js';

type Factory<T extends SourceConfig['type']> = (config: Extract<SourceConfig, { type: T }>) => Source;

/** One line per source kind; adding a kind is one file and one entry here. */
const FACTORIES: { readonly [T in SourceConfig['type']]: Factory<T> } = {
  w1: (c) => new W1SysfsSource({ path: c.path }),
  owfs: (c) => new OwfsMountSource({ path: c.path, uncached: c.uncached }),
};

export function createSource(config: SourceConfig): Source {
  const factory = FACTORIES[config.type] as Factory<typeof config.type>;
  return factory(config);
}

/** Where each kind lives on a stock system, tried when sensors.yaml lists no sources. */
export async function detectSources(root = ''): Promise<SourceConfig[]> {
  const found: SourceConfig[] = [];
  const w1 = `${root}/sys/bus/w1/devices`;
  if (await exists(w1)) found.push({ type: 'w1', path: w1 });
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
