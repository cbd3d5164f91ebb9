import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { processAlive } from './process-alive.js';

/**
 * A PID lock file, so two agents never append to the same queue. It names the PID and
 * the kernel's boot id: after SIGKILL the file stays behind, and it is stale when that
 * PID is gone or the machine rebooted since (PIDs start over at each boot, see
 * proc(5) /proc/sys/kernel/random/boot_id).
 */

export type LockResult = { readonly ok: true; readonly tookOver?: number } | { readonly ok: false; readonly holder: number };

export interface LockDeps {
  readonly pid: number;
  readonly bootId: () => string;
  readonly alive: (pid: number) => boolean;
}

const defaultDeps: LockDeps = { pid: process.pid, bootId: readBootId, alive: processAlive };

export function acquireLock(file: string, deps: LockDeps = defaultDeps): LockResult {
  const mine = `${deps.pid} ${deps.bootId()}\n`;
  try {
    writeFileSync(file, mine, { flag: 'wx', mode: 0o644 });
    return { ok: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const [pidText, boot] = readText(file).trim().split(/\s+/);
  const holder = Number(pidText);
  const known = Number.isInteger(holder) && holder > 0;
  if (known && holder !== deps.pid && boot === deps.bootId() && deps.alive(holder)) return { ok: false, holder };
  // Stale: its agent died (SIGKILL, power cut) without removing it.
  writeFileSync(file, mine, { mode: 0o644 });
  return known && holder !== deps.pid ? { ok: true, tookOver: holder } : { ok: true };
}

export function releaseLock(file: string, pid = process.pid): void {
  try {
    if (Number(readText(file).trim().split(/\s+/)[0]) === pid) unlinkSync(file);
  } catch {
    // gone already
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readBootId(): string {
  return readText('/proc/sys/kernel/random/boot_id').trim() || 'unknown';
}
