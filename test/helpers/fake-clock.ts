import type { Clock } from '../../src/system/clock.js';

/** A clock whose time only moves when a sleeper is woken by advance(). */
export class FakeClock implements Clock {
  t = 0;
  #sleepers: { until: number; resolve: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const entry = { until: this.t + ms, resolve };
      this.#sleepers.push(entry);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = this.#sleepers.filter((s) => s.until <= end).sort((a, b) => a.until - b.until)[0];
      if (!next) break;
      this.t = Math.max(this.t, next.until);
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.t = end;
    await flush();
  }
}

/** Let pending promise chains and setImmediate callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
