import { Agent } from '../agent.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { systemClock } from '../sampling/clock.js';
import { handleShutdownSignals } from '../system/shutdown.js';
import { loadCliConfig } from './load-config.js';

/** `w1mqtt run`: load config, start the agent, run until a signal. */
export async function runCommand(args: { config?: string | undefined }): Promise<number> {
  const loaded = await loadCliConfig(args.config);
  if (!loaded.ok) {
    for (const line of loaded.lines) process.stderr.write(`${line}\n`);
    process.stderr.write('w1mqtt: refusing to start with an invalid config (fix the lines above; `w1mqtt check` re-validates)\n');
    return 1;
  }
  const log = createLogger({ level: loaded.config.log_level });
  log.info({ config: loaded.file ?? '(none: defaults)', version: process.env['npm_package_version'] }, 'w1mqtt starting');
  return runAgent(loaded.config, log);
}

/** Start an agent and keep the process alive until SIGINT/SIGTERM; shared with `demo`. */
export async function runAgent(config: Config, log: Logger, onStop?: () => Promise<void>): Promise<number> {
  const agent = new Agent({ config, log, clock: systemClock });
  handleShutdownSignals({
    log,
    stop: async () => {
      await agent.stop();
      await onStop?.();
    },
  });
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    await agent.stop();
    await onStop?.();
    return 1;
  }
  log.info({ sensors: agent.sensors().length }, 'running');
  // Signals end the process through handleShutdownSignals.
  return new Promise<number>(() => {});
}
