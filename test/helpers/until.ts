import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` every 25 ms until it is true; rejects with `what` after `timeoutMs`. */
export async function until(what: string | (() => string), check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(25);
  }
}

