import type { Logger } from '../log.js';

export interface ShutdownOptions {
  readonly log: Logger;
  /** Stops everything; called once, on the first signal. */
  readonly stop: () => Promise<void>;
  /** After this, exit anyway with 1 (systemd's TimeoutStopSec would SIGKILL us later). @default 10 s */
  readonly deadlineMs?: number;
  readonly exit?: (code: number) => void;
}

/**
 * The one owner of SIGINT/SIGTERM: the first signal stops gracefully and exits 0
 * (so systemd records no failure), a second signal exits 1 at once.
 */
export function handleShutdownSignals(options: ShutdownOptions): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      options.log.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    stopping = true;
    options.log.info({ signal }, 'stopping');
    const deadline = setTimeout(() => {
      options.log.error('graceful stop took too long: exiting');
      exit(1);
    }, options.deadlineMs ?? 10_000);
    deadline.unref();
    options
      .stop()
      .then(() => {
        clearTimeout(deadline);
        options.log.info('stopped');
        exit(0);
      })
      .catch((err: unknown) => {
        options.log.error({ err }, 'stop failed');
        exit(1);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
