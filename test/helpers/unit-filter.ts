import { execFile as execFileCb } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * A unit's SystemCallFilter= and RestrictAddressFamilies= as the sets systemd builds
 * from them (systemd.exec(5)), for test/helpers/unit-sandbox.py to apply: a command then
 * runs under the same filter as the service, without systemd as PID 1.
 */

const execFile = promisify(execFileCb);

/** Every group of `systemd-analyze syscall-filter` with its members (system calls and @groups). */
async function syscallGroups(analyze: string): Promise<Map<string, string[]>> {
  const { stdout } = await execFile(analyze, ['syscall-filter'], { maxBuffer: 4 << 20 });
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const header = /^(@[\w-]+)$/.exec(line);
    const member = /^\s+([@\w-]+)$/.exec(line);
    if (header?.[1]) groups.set(header[1], (current = []));
    else if (member?.[1] && current) current.push(member[1]);
    else if (/^\S/.test(line)) current = undefined; // the closing "# unlisted" part
  }
  return groups;
}

/**
 * The system calls allowed by the unit's SystemCallFilter= lines, in order: the first is
 * an allow list (the unit's form), a ~ line removes its calls, a later plain line adds back.
 */
export async function allowedSyscalls(unit: string, analyze: string): Promise<Set<string>> {
  const groups = await syscallGroups(analyze);
  const expand = (name: string, seen = new Set<string>()): string[] => {
    if (!name.startsWith('@')) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    const members = groups.get(name);
    if (!members) throw new Error(`unknown system call group ${name}`);
    return members.flatMap((m) => expand(m, seen));
  };
  const lines = [...unit.matchAll(/^SystemCallFilter=(.*)$/gm)].map((m) => (m[1] ?? '').trim());
  if (lines.length === 0 || lines[0]?.startsWith('~')) throw new Error('the unit has no SystemCallFilter= allow list');
  const allowed = new Set<string>(expand('@default')); // systemd adds @default to every allow list
  for (const line of lines) {
    const deny = line.startsWith('~');
    for (const word of line.replace(/^~/, '').split(/\s+/).filter(Boolean)) {
      for (const call of expand(word)) {
        if (deny) allowed.delete(call);
        else allowed.add(call);
      }
    }
  }
  return allowed;
}

const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 };

/** The address family numbers of the unit's RestrictAddressFamilies= (an allow list). */
export function allowedFamilies(unit: string): number[] {
  const line = /^RestrictAddressFamilies=(.*)$/m.exec(unit)?.[1]?.trim();
  if (!line || line.startsWith('~')) throw new Error('the unit has no RestrictAddressFamilies= allow list');
  return line.split(/\s+/).map((name) => {
    const family = FAMILIES[name];
    if (family === undefined) throw new Error(`address family ${name} not in the table`);
    return family;
  });
}
