import { access } from 'node:fs/promises';
import type { ConfigDiff } from '../config/diff.js';
import { summarizeDiff } from '../config/diff.js';
import { formatProblem, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';

export interface ReloaderOptions {
  readonly file: string;
  readonly agent: { reload(config: Config): Promise<ConfigDiff> };
  readonly log: Logger;
  /** systemd: RELOADING=1 before, READY=1 and the status (with any config error) after. */
  readonly service?: { reloading(): Promise<void>; reloaded(configError: string | undefined): Promise<void> } | undefined;
}

/**
 * Reads sensors.yaml again (on a file change or SIGHUP) and hands a valid config to
 * the agent. A broken edit is refused whole: every problem is logged with its
 * file:line:col, the running config stays, and the next good edit applies.
 * Requests that arrive during a reload are folded into one more reload after it.
 */
export class ConfigReloader {
  readonly #o: ReloaderOptions;
  #running: Promise<void> | undefined;
  #again: string | undefined;
  #missing = false;

  constructor(options: ReloaderOptions) {
    this.#o = options;
  }

  /** Reload soon; `reason` is logged (`file changed`, `SIGHUP`). Resolves when done. */
  request(reason: string): Promise<void> {
    if (this.#running) {
      this.#again = reason;
      return this.#running;
    }
    const run = async (): Promise<void> => {
      let next: string | undefined = reason;
      while (next !== undefined) {
        this.#again = undefined;
        await this.#reload(next);
        next = this.#again;
      }
    };
    this.#running = run().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #reload(reason: string): Promise<void> {
    const { file, log, service } = this.#o;
    if (!(await exists(file))) {
      // An editor's delete-then-create, or a removed file: keep going, the watcher sees it return.
      if (!this.#missing) log.warn({ file, reason }, 'sensors.yaml is gone: still running the previous config until it is back');
      this.#missing = true;
      return;
    }
    this.#missing = false;
    await service?.reloading();
    let configError: string | undefined;
    try {
      const loaded = await loadConfigFile(file);
      if (!loaded.ok) {
        for (const p of loaded.problems) log.error({ file: p.file, line: p.line, col: p.col, path: p.path }, formatProblem(p));
        const n = loaded.problems.length;
        log.error({ file, reason, problems: n }, `sensors.yaml not applied: ${n} problem${n === 1 ? '' : 's'}; still running the previous config`);
        const first = loaded.problems[0];
        configError = first ? `${formatProblem(first)}${n > 1 ? ` (+${n - 1} more)` : ''}` : 'invalid';
        return;
      }
      const diff = await this.#o.agent.reload(loaded.config);
      const { added, removed, changed, settings, reconnect, broker, restart } = diff;
      log.info(
        { file, reason, added, removed, changed: changed.map((c) => c.id), settings, reconnect, broker, restart },
        `config reloaded: ${summarizeDiff(diff, loaded.config)}`,
      );
    } catch (err) {
      const message = errText(err);
      log.error({ file, reason, err: message }, 'config reload failed: still running the previous config');
      configError = message;
    } finally {
      await service?.reloaded(configError);
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
