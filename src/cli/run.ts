import { Agent } from '../agent/agent.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { stderrErrorPrefix } from '../log-journal.js';
import { systemClock } from '../system/clock.js';
import { SdNotify } from '../system/sd-notify.js';
import { ServiceNotifier } from '../system/service.js';
import { handleShutdownSignals } from '../system/shutdown.js';
import { followConfig } from './live-config.js';
import { loadCliConfig } from './load-config.js';
import { errText } from '../system/err-text.js';

/** `w1mqtt run`: load config, start the agent, follow sensors.yaml, run until a signal. */
export async function runCommand(args: { config?: string | undefined }): Promise<number> {
  const loaded = await loadCliConfig(args.config);
  if (!loaded.ok) {
    // Under systemd each line is an error in the journal (`journalctl -p err`), not info.
    const prefix = stderrErrorPrefix();
    for (const line of loaded.lines) process.stderr.write(`${prefix}${line}\n`);
    process.stderr.write(`${prefix}w1mqtt: refusing to start with an invalid config (fix the lines above; \`w1mqtt check\` re-validates)\n`);
    return 1;
  }
  const log = createLogger({ level: loaded.config.log_level });
  log.info({ config: loaded.file ?? '(none: defaults)', version: process.env['npm_package_version'] }, 'w1mqtt starting');
  for (const line of loaded.warnings) log.warn({ config: loaded.file }, line);
  return runAgent(loaded.config, log, undefined, { attach: (agent, service) => followConfig(loaded.file, agent, log, service) });
}

/** What `run` adds once the agent is up (the config watcher); returns how to stop it. */
export type Attach = (agent: Agent, service: ServiceNotifier | undefined) => Promise<() => Promise<void>>;

/** Start an agent and keep the process alive until SIGINT/SIGTERM; shared with `demo`. */
export interface RunOptions {
  /** What `run` adds once the agent is up (the config watcher). */
  readonly attach?: Attach;
  /** The demo takes a free port when the page's port is busy. */
  readonly webFallbackPort?: boolean;
}

export async function runAgent(config: Config, log: Logger, onStop?: () => Promise<void>, opts: RunOptions = {}): Promise<number> {
  const agent = new Agent({ config, log, clock: systemClock });
  // Only under systemd (NOTIFY_SOCKET set): READY/STATUS/WATCHDOG/RELOADING/STOPPING.
  const notify = await SdNotify.fromEnv(process.env, log.child({ module: 'systemd' }));
  const service = notify && new ServiceNotifier({ notify, agent, log: log.child({ module: 'systemd' }) });
  // The page starts first so it sees the first readings; it saves its history after the agent stopped.
  // Loaded only when wanted: the page's server and state cost memory a headless agent need not pay.
  const page = config.web.enabled ? new (await import('../web/live-page.js')).LivePage({ agent, log: log.child({ module: 'web' }), fallbackToFreePort: opts.webFallbackPort ?? false }) : undefined;
  let detach: (() => Promise<void>) | undefined;
  const stopAll = async (): Promise<void> => {
    await service?.stopping();
    await detach?.();
    await agent.stop();
    await page?.stop().catch((err: unknown) => log.error({ part: 'web', err: errText(err) }, 'error while stopping'));
    await onStop?.();
    await notify?.close();
  };
  handleShutdownSignals({ log, stop: stopAll });
  // The page is optional: whatever goes wrong with it, the agent still starts.
  await page?.start().catch((err: unknown) => log.error({ module: 'web', err: errText(err) }, 'web page not available'));
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err: errText(err) }, 'cannot start');
    await stopAll();
    return 1;
  }
  service?.start();
  detach = await opts.attach?.(agent, service);
  log.info({ sensors: agent.sensors().length }, 'running');
  // Signals end the process through handleShutdownSignals.
  return new Promise<number>(() => {});
}
