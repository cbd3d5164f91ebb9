import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Subscriber } from './mqtt-sub.js';

/**
 * CPU and memory of a process and of its children (the agent's bundled mosquitto), from
 * /proc, for the bounds the hostile-input tests state. CPU is user + system time in seconds
 * (clock ticks of 1/100 s, as on every Linux the tests run on).
 */

export interface Usage {
  /** User + system CPU seconds so far. */
  readonly cpuS: number;
  /** Resident set, MB. */
  readonly rssMb: number;
}

export function usage(pid: number): Usage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return { cpuS: (Number(fields[11]) + Number(fields[12])) / 100, rssMb: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

/** PIDs of `pid`'s children (the agent's: its mosquitto). */
export function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Samples a process's RSS every 100 ms until stopped: the peak between start and stop, and the CPU used. */
export function watchUsage(pid: number): { stop(): { cpuS: number; peakRssMb: number; startRssMb: number } } {
  const first = usage(pid) ?? { cpuS: 0, rssMb: 0 };
  let peak = first.rssMb;
  const timer = setInterval(() => {
    peak = Math.max(peak, usage(pid)?.rssMb ?? 0);
  }, 100);
  // A failing test never calls stop(): the sampler must not keep the test process alive.
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const last = usage(pid) ?? first;
      return { cpuS: last.cpuS - first.cpuS, peakRssMb: Math.max(peak, last.rssMb), startRssMb: first.rssMb };
    },
  };
}

/** Raise this process's soft limit on open files (for a test opening thousands of sockets), up to its hard limit. */
export function raiseFdLimit(wanted: number): number {
  const hard = Number(/Max open files\s+\d+\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]?.replace('unlimited', String(wanted)) ?? wanted);
  const soft = Math.min(wanted, hard);
  spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`]);
  return Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 0);
}

/** Waits for a reading of `topic` published after this call (not a retained copy): the agent is still at work. */
export async function freshReading(sub: Subscriber, topic: string, timeoutMs = 10_000): Promise<void> {
  const seen = sub.retainedLines.length;
  await sub.waitFor((m) => m.topic === topic && !m.retained && sub.retainedLines.indexOf(m) >= seen, timeoutMs);
}
