/**
 * Bounded waits: a stop, a status message or a first connection waits for a peer that
 * may never answer (a broker gone, a child process hung), and a shutdown must not hang
 * with it. One helper so that every such wait clears its timer: a timer left armed
 * would keep the process alive for its full length after everything else has ended.
 */

/** `promise`'s value, or `'timeout'` if it has not settled within `ms`; rejects if it rejects first. */
export async function atMost<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, ms, 'timeout')));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `promise` at most `ms` and says how that went; never rejects. */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<'done' | 'failed' | 'timeout'> {
  return atMost(
    promise.then(
      () => 'done' as const,
      () => 'failed' as const,
    ),
    ms,
  );
}
