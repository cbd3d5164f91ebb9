import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentNodeFlags } from './node-flags.js';
import { processAlive } from '../../src/system/process-alive.js';

/** Repository root, for the CLI entry point and the fixtures. */
export const ROOT = new URL('../../', import.meta.url).pathname;
export const FIXTURES = join(ROOT, 'fixtures');

/**
 * The real CLI as a child process (`node --import tsx src/main.ts …`), with its
 * JSON log lines collected. Stopped by PID in stop()/kill().
 */
export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON log lines (stdout). */
  readonly logs: Record<string, unknown>[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line matching, or rejects after timeoutMs. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** SIGTERM (or the given signal); SIGKILL if still alive after 8 s. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * `wrap`: a command that execs the agent (same PID), e.g. `setpriv … --` to run it
 * without root's capabilities. `built`: the bundle in dist/ through bin/w1mqtt.cjs with its
 * node flags, as installed (build it first), instead of the sources under tsx.
 */
export function startCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; ownWatchdogPid?: boolean; uid?: number; gid?: number; wrap?: string[]; built?: boolean } = {}): AgentProcess {
  const argv = opts.built ? [...agentNodeFlags(), join(ROOT, 'bin/w1mqtt.cjs'), ...args] : ['--import', 'tsx', join(ROOT, 'src/main.ts'), ...args];
  // systemd sets WATCHDOG_PID to the main PID before exec; a shell that execs node keeps its PID.
  const [shell, shellArgs] = opts.ownWatchdogPid
    ? ['/bin/sh', ['-c', 'WATCHDOG_PID=$$ exec "$0" "$@"', process.execPath, ...argv]]
    : [process.execPath, argv];
  const [command = shell, ...commandArgs] = opts.wrap ? [...opts.wrap, shell, ...shellArgs] : [shell, ...shellArgs];
  // Its own state directory (the page's history), so no test writes to /var/lib/w1mqtt
  // or sees another's history; a config's state_dir still wins.
  const stateDir = mkdtempSync(join(tmpdir(), 'w1mqtt-state-'));
  // An agent run as another user (e.g. nobody, as the service would) must own its state.
  if (opts.uid !== undefined) chownSync(stateDir, opts.uid, opts.gid ?? opts.uid);
  const child = spawn(command, commandArgs, {
    cwd: opts.cwd ?? ROOT,
    ...(opts.uid !== undefined && { uid: opts.uid }),
    ...(opts.gid !== undefined && { gid: opts.gid }),
    env: { ...process.env, LOG_LEVEL: 'debug', W1MQTT_CONFIG: '', STATE_DIRECTORY: stateDir, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let partial = '';
  const logs: Record<string, unknown>[] = [];
  const wakers = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    for (const wake of wakers) wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      void removeStateDir(stateDir).then(() => resolve(code ?? signal ?? 'unknown'));
    }),
  );

  const waitForLog: AgentProcess['waitForLog'] = (predicate, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      let seen = 0;
      const check = (): boolean => {
        for (; seen < logs.length; seen++) {
          const line = logs[seen];
          if (line && predicate(line)) {
            resolve(line);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        wakers.delete(wake);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-2000)}`));
      }, timeoutMs);
      const wake = (): void => {
        if (check()) {
          clearTimeout(timer);
          wakers.delete(wake);
        }
      };
      wakers.add(wake);
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const result = await Promise.race([exited, sleep(8_000, 'timeout' as const, { ref: false })]);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      return 'timeout';
    }
    return result;
  };
  return { child, pid: child.pid ?? -1, logs, stdout: () => out, stderr: () => err, waitForLog, exited, stop };
}

/**
 * A killed agent's bundled mosquitto outlives it briefly (pdeathsig SIGTERM, then it
 * saves its persistence into the state dir), so wait for it before removing the dir.
 */
async function removeStateDir(stateDir: string): Promise<void> {
  let pid = 0;
  try {
    pid = Number(readFileSync(join(stateDir, 'broker', 'mosquitto.pid'), 'utf8').trim());
  } catch {
    // no bundled broker ran
  }
  for (let i = 0; pid > 0 && i < 100 && processAlive(pid); i++) await sleep(50);
  await rm(stateDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/** A temp dir holding copies of the fixture trees (tests may change them) and a sensors.yaml. */
export async function fixtureWorkspace(): Promise<{ dir: string; w1: string; owfs: string; writeConfig(yaml: string): Promise<string>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-test-'));
  await cp(join(FIXTURES, 'w1'), join(dir, 'w1'), { recursive: true, verbatimSymlinks: true });
  await cp(join(FIXTURES, 'owfs'), join(dir, 'owfs'), { recursive: true });
  return {
    dir,
    w1: join(dir, 'w1', 'devices'),
    owfs: join(dir, 'owfs'),
    async writeConfig(yaml: string) {
      const file = join(dir, 'sensors.yaml');
      await writeFile(file, yaml);
      return file;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Run the CLI to completion (for check/scan/--help), bounded in time. */
export async function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | string; stdout: string; stderr: string; logs: Record<string, unknown>[] }> {
  const p = startCli(args, opts);
  const limit = opts.timeoutMs ?? 20_000;
  const code = await Promise.race([p.exited, sleep(limit, undefined, { ref: false }).then(async () => `timeout after ${limit} ms (${String(await p.stop('SIGKILL'))})`)]);
  return { code, stdout: p.stdout(), stderr: p.stderr(), logs: p.logs };
}
