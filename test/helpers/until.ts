import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waiting for what a test cannot be told about by an event: another process's state, a
 * file, a count in a log. Each polls, and rejects after `timeoutMs` naming what it waited
 * for (`what` may be a function, to say how far it got). Never to show that nothing
 * happened: that takes an injected clock or an event.
 */

type What = string | (() => string);

/** Polls `check` every `everyMs` until it is true; rejects after `timeoutMs`. A check that throws fails at once. */
export async function until(what: What, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  await waitFor(what, async () => ((await check()) ? true : undefined), timeoutMs, everyMs);
}

/** Polls `probe` every `everyMs` until it returns a value (not undefined), and resolves with it; rejects after `timeoutMs`. */
export async function waitFor<T>(what: What, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(everyMs);
  }
}

/** waitFor for a probe that may fail meanwhile (a server still starting): failures are tried again, and the last one is told. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  let last: unknown;
  const attempt = async (): Promise<T | undefined> => {
    try {
      return await probe();
    } catch (err) {
      last = err;
      return undefined;
    }
  };
  return waitFor(() => `${what}${last ? `: ${String(last)}` : ''}`, attempt, timeoutMs, 100);
}

