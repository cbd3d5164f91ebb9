import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * Which process listens on a TCP port, read from /proc the way `ss -ltnp` does: the
 * socket's inode from /proc/net/tcp{,6} (state 0A is LISTEN), then the process holding
 * an fd to `socket:[inode]`. Other users' fds are unreadable unless we are root, so the
 * answer may be only "something"; it is a hint for an error message, never a decision.
 */

export interface PortHolder {
  readonly pid?: number;
  readonly command?: string;
}

const LISTEN = '0A';

/** Pure: the inodes of sockets listening on `port` in one /proc/net/tcp table. */
export function listeningInodes(table: string, port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    if (local === undefined || cols[3] !== LISTEN) continue;
    if (local.slice(local.lastIndexOf(':') + 1) === hexPort && cols[9] !== undefined) inodes.push(cols[9]);
  }
  return inodes;
}

/** undefined when nothing listens there (or /proc is not readable). */
export async function findPortHolder(port: number, proc = '/proc'): Promise<PortHolder | undefined> {
  const tables = await Promise.all(['tcp', 'tcp6'].map((t) => readFile(`${proc}/net/${t}`, 'utf8').catch(() => '')));
  const inodes = new Set(tables.flatMap((t) => listeningInodes(t, port)));
  if (inodes.size === 0) return undefined;
  const pids = (await readdir(proc).catch(() => [])).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    const fds = await readdir(`${proc}/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`${proc}/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m?.[1] !== undefined && inodes.has(m[1])) {
        const command = (await readFile(`${proc}/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean).join(' ');
        return { pid: Number(pid), ...(command === '' ? {} : { command }) };
      }
    }
  }
  return {};
}

/** "held by PID 123 (mosquitto -c /etc/mosquitto/mosquitto.conf)" or a hint to look. */
export function describeHolder(port: number, holder: PortHolder | undefined): string {
  if (holder?.pid !== undefined) return `held by PID ${holder.pid}${holder.command ? ` (${holder.command})` : ''}`;
  return `find what holds it with: sudo ss -ltnp 'sport = :${port}'`;
}
