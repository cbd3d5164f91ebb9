import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface StateDirOptions {
  /** `state_dir` from sensors.yaml: used as given. */
  readonly configured?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  /** The system location; a parameter so tests need no root. @default /var/lib/w1mqtt */
  readonly systemDir?: string;
}

/**
 * Where w1mqtt keeps what must survive a restart (the outbox, the page's history). In order:
 * sensors.yaml's `state_dir`; `$STATE_DIRECTORY`, which systemd sets from
 * `StateDirectory=` (systemd.exec(5); a colon-separated list, the first is ours);
 * /var/lib/w1mqtt if this user may write there (or create it: root on a fresh Pi); else the XDG state home
 * (`$XDG_STATE_HOME`, default ~/.local/state: XDG Base Directory spec 0.8).
 * Nothing is created here: the writer does `mkdir -p` when it first saves.
 */
export async function resolveStateDir(options: StateDirOptions = {}): Promise<string> {
  return (await locateStateDir(options)).dir;
}

/** Which rule picked the directory, for the log line that says where state goes. */
export type StateDirSource = 'state_dir' | 'STATE_DIRECTORY' | 'system' | 'XDG_STATE_HOME' | 'home';

/** resolveStateDir, and why that directory. */
export async function locateStateDir(options: StateDirOptions = {}): Promise<{ dir: string; source: StateDirSource }> {
  if (options.configured !== undefined) return { dir: options.configured, source: 'state_dir' };
  const env = options.env ?? process.env;
  const fromSystemd = env['STATE_DIRECTORY']?.split(':')[0];
  if (fromSystemd) return { dir: fromSystemd, source: 'STATE_DIRECTORY' };
  const system = options.systemDir ?? '/var/lib/w1mqtt';
  if (await writable(system)) return { dir: system, source: 'system' };
  const xdg = env['XDG_STATE_HOME'];
  // The spec says a relative $XDG_STATE_HOME is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return { dir: join(xdg, 'w1mqtt'), source: 'XDG_STATE_HOME' };
  return { dir: join(options.home ?? homedir(), '.local', 'state', 'w1mqtt'), source: 'home' };
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') return false;
  }
  try {
    await access(dirname(dir), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
