import { Agent } from '../agent.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { systemClock } from '../sampling/clock.js';
import { handleShutdownSignals } from '../system/shutdown.js';
import { LivePage } from '../web/live-page.js';
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
export async function runAgent(config: Config, log: Logger, onStop?: () => Promise<void>, opts: { webFallbackPort?: boolean } = {}): Promise<number> {
  const agent = new Agent({ config, log, clock: systemClock });
  // The page starts first so it sees the first readings; it saves its history after the agent stopped.
  const page = config.web.enabled ? new LivePage({ agent, log: log.child({ module: 'web' }), fallbackToFreePort: opts.webFallbackPort ?? false }) : undefined;
  const stopAll = async (): Promise<void> => {
    await agent.stop();
    await page?.stop().catch((err: unknown) => log.error({ part: 'web', err: err instanceof Error ? err.message : String(err) }, 'error while stopping'));
    await onStop?.();
  };
  handleShutdownSignals({ log, stop: stopAll });
  // The page is optional: whatever goes wrong with it, the agent still starts.
  await page?.start().catch((err: unknown) => log.error({ module: 'web', err: err instanceof Error ? err.message : String(err) }, 'web page not available'));
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    await stopAll();
    return 1;
  }
  log.info({ sensors: agent.sensors().length }, 'running');
  // Signals end the process through handleShutdownSignals.
  return new Promise<number>(() => {});
}
