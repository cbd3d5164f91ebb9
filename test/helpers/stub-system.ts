import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { findBinary } from './mosquitto.js';

/**
 * Stand-ins for the commands through which the deploy scripts look at and change the
 * machine (systemctl, systemd-notify, dpkg-query, apt-get, id, sudo, udevadm, journalctl),
 * put first on PATH. They answer from files in a temp dir, change them as the real ones
 * would (apt-get install mosquitto: Debian's postinst enables and, under systemd, starts
 * mosquitto.service), and log every call: a test drives the scripts' decisions without
 * touching the real packages or systemd.
 */

export interface StubState {
  /** Debian packages that dpkg-query reports installed. */
  installed?: string[];
  /** What `systemctl is-enabled mosquitto.service` prints (default: not-found). */
  enabled?: 'enabled' | 'disabled' | 'not-found';
  /** `systemctl is-active mosquitto.service` succeeds. */
  active?: boolean;
  /** systemd is PID 1 (`systemd-notify --booted`). */
  booted?: boolean;
  /** `id -u` says 0; otherwise 1000, and sudo wants a password. */
  root?: boolean;
}

export interface StubSystem {
  /** The stubs' directory, first on `env.PATH`. */
  readonly bin: string;
  /** process.env with PATH starting at the stubs. */
  readonly env: NodeJS.ProcessEnv;
  /** Every stub call so far, one `name arg…` line each. */
  calls(): Promise<string[]>;
  /** The package state now (after the scripts ran). */
  installed(): Promise<string[]>;
  enabled(): Promise<string>;
  active(): Promise<boolean>;
  cleanup(): Promise<void>;
}

export async function stubSystem(state: StubState = {}): Promise<StubSystem> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-stubs-'));
  const bin = join(dir, 'bin');
  const s = join(dir, 'state');
  await mkdir(bin);
  await mkdir(join(s, 'pkgs'), { recursive: true });
  for (const pkg of state.installed ?? []) await writeFile(join(s, 'pkgs', pkg), '');
  await writeFile(join(s, 'enabled'), `${state.enabled ?? 'not-found'}\n`);
  if (state.active) await writeFile(join(s, 'active'), '');
  if (state.booted) await writeFile(join(s, 'booted'), '');
  if (state.root) await writeFile(join(s, 'root'), '');
  const realId = findBinary('id') ?? '/usr/bin/id';

  const log = `S=${q(s)}; printf '%s\\n' "\${0##*/} $*" >>${q(join(dir, 'calls'))}`;
  const stubs: Record<string, string> = {
    systemctl: `
      args=(); quiet=0
      for a in "$@"; do case "$a" in --quiet | -q) quiet=1 ;; -*) ;; *) args+=("$a") ;; esac; done
      [ "\${args[1]:-}" = mosquitto.service ] || exit 0
      case "\${args[0]}" in
        is-enabled) read -r st <"$S/enabled"; [ "$quiet" = 1 ] || echo "$st"; [ "$st" = enabled ] ;;
        is-active) if [ -e "$S/active" ]; then [ "$quiet" = 1 ] || echo active; else [ "$quiet" = 1 ] || echo inactive; exit 3; fi ;;
        disable) echo disabled >"$S/enabled"; case " $* " in *" --now "*) rm -f "$S/active" ;; esac ;;
        enable) echo enabled >"$S/enabled"; case " $* " in *" --now "*) : >"$S/active" ;; esac ;;
      esac`,
    'systemd-notify': `[ "$1" = --booted ] && [ -e "$S/booted" ]`,
    'dpkg-query': `
      pkg="\${!#}"
      if [ -e "$S/pkgs/$pkg" ]; then printf installed; else echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; fi`,
    'apt-get': `
      [ "$1" = update ] && exit 0
      install=0
      for a in "$@"; do
        case "$a" in
          install) install=1 ;;
          -*) ;;
          *) [ "$install" = 1 ] || continue
             : >"$S/pkgs/$a"
             # Debian's postinst: deb-systemd-helper enables the unit; it is started under systemd only.
             if [ "$a" = mosquitto ]; then echo enabled >"$S/enabled"; [ ! -e "$S/booted" ] || : >"$S/active"; fi ;;
        esac
      done`,
    id: `if [ "$1" = -u ]; then if [ -e "$S/root" ]; then echo 0; else echo 1000; fi; else exec ${q(realId)} "$@"; fi`,
    sudo: `echo "sudo: a password is required" >&2; exit 1`,
    udevadm: `exit 0`,
    journalctl: `exit 0`,
  };
  for (const [name, body] of Object.entries(stubs)) {
    const file = join(bin, name);
    await writeFile(file, `#!/bin/bash\n${log}\n${body.replace(/^\n/, '')}\n`);
    await chmod(file, 0o755);
  }

  const lines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return {
    bin,
    env: { ...process.env, PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}` },
    calls: () => lines(join(dir, 'calls')),
    installed: async () => (await readdir(join(s, 'pkgs'))).sort(),
    enabled: async () => (await readFile(join(s, 'enabled'), 'utf8')).trim(),
    active: () => access(join(s, 'active')).then(() => true, () => false),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A single-quoted shell word. */
function q(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
