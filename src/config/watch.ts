import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';

export interface ConfigWatcherOptions {
  /** sensors.yaml, or the candidate paths while there is none yet. */
  readonly files: readonly string[];
  readonly log: Logger;
  /** Called once a burst of events on `file` has been quiet for `debounceMs`. */
  readonly onChange: (file: string) => void;
  /** @default 400 */
  readonly debounceMs?: number;
}

/**
 * Watches sensors.yaml for live reload. It watches the file's directory, not the
 * file: editors save by writing a temp file and renaming it over the original
 * (vim, nano with backups, sed -i, Ansible), which replaces the inode a file watch
 * is attached to; a file that is deleted and created again is likewise only seen
 * from its directory. Bursts (truncate, write, chmod, rename) are debounced into
 * one callback so a half-written file is not read.
 */
export class ConfigWatcher {
  readonly #o: ConfigWatcherOptions;
  readonly #files: Set<string>;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | undefined;

  constructor(options: ConfigWatcherOptions) {
    this.#o = options;
    this.#files = new Set(options.files.map((f) => resolve(f)));
  }

  /** Resolves once the directories are being watched. */
  async start(): Promise<void> {
    const dirs = [...new Set([...this.#files].map((f) => dirname(f)))].filter((d) => existsSync(d));
    if (dirs.length === 0) {
      this.#o.log.warn({ files: [...this.#files] }, 'not watching sensors.yaml: its directory does not exist');
      return;
    }
    const watcher = watch(dirs, {
      ignoreInitial: true,
      depth: 0,
      // Only the directories themselves and the files we care about: a busy /etc stays cheap.
      ignored: (path) => !dirs.includes(path) && !this.#files.has(resolve(path)),
    });
    this.#watcher = watcher;
    watcher.on('all', (event, path) => {
      const file = resolve(path);
      if (this.#files.has(file)) this.#debounce(file, event);
    });
    watcher.on('error', (err) => this.#o.log.warn({ err: errText(err) }, 'watching sensors.yaml failed'));
    await new Promise<void>((done) => watcher.once('ready', () => done()));
    this.#o.log.info({ files: [...this.#files] }, `watching ${[...this.#files].map((f) => basename(f)).join(', ')} for changes`);
  }

  #debounce(file: string, event: string): void {
    this.#o.log.debug({ file, event }, 'sensors.yaml event');
    clearTimeout(this.#timers.get(file));
    const timer = setTimeout(() => {
      this.#timers.delete(file);
      this.#o.onChange(file);
    }, this.#o.debounceMs ?? 400);
    this.#timers.set(file, timer);
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    await watcher?.close();
  }
}
