import { setTimeout as sleep } from 'node:timers/promises';

/** Time as the scheduler sees it; tests pass a fake one instead of mocking modules. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    try {
      await sleep(Math.max(0, ms), undefined, { signal });
    } catch {
      // aborted: the caller checks its own state
    }
  },
};
