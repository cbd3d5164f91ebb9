import type { ConvertResult, ReadError, ReadResult } from '../readings/read-result.js';
import { errText } from '../system/err-text.js';

/**
 * A call that blocks a thread-pool thread in the kernel (a read, a bus-wide conversion)
 * as the bus worker runs it: its deadline, what it yields when it does not return a
 * value of its own, and how to wait for one that outlived its timeout.
 */

/** A blocking call of the bus worker: its deadline and, once it timed out, when it really ended. */
export interface Call {
  /** performance.now() after which it has timed out. */
  readonly at: number;
  readonly expire: () => void;
  expired?: boolean;
  done: boolean;
  ended?: Promise<void>;
  end?: () => void;
}

/** What a blocking call yields when it does not return a value of its own. */
export interface Outcomes<T> {
  /** It did not return within the timeout (ms). */
  readonly timeout: (ms: number) => T;
  /** It threw or rejected. */
  readonly failed: (err: unknown) => T;
  /** Not made: the bus is held by a stuck read, or stuck reads hold every thread. A conversion waits instead. */
  readonly notMade?: (error: ReadError) => T;
}

export const READ: Outcomes<ReadResult> = {
  timeout: (ms) => ({ ok: false, error: { code: 'timeout', ms } }),
  failed: (err) => ({ ok: false, error: unexpected(err).error }),
  notMade: (error) => ({ ok: false, error }),
};

export const CONVERT: Outcomes<ConvertResult> = { timeout: timedOut, failed: unexpected };

function unexpected(err: unknown): ConvertResult & { ok: false } {
  return { ok: false, error: { code: 'io_error', errno: 'EUNKNOWN', message: errText(err) }, permanent: false };
}

function timedOut(ms: number): ConvertResult {
  return { ok: false, error: { code: 'timeout', ms }, permanent: false };
}

/** True once `p` settles; false if `signal` aborts first. */
export function untilSettled(p: Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}
