import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BrokerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { errText } from '../system/err-text.js';
import { checkSmallFile, MAX_TLS_FILE_BYTES, SmallFileError, writableByOthers } from '../system/small-file.js';
import { EpisodeLog } from '../system/episode-log.js';
import { findMosquitto, findSetpriv, MOSQUITTO_MISSING } from './find-mosquitto.js';
import { classifyBrokerLine } from './mosquitto-log.js';
import { brokerChange, CONF_FILE, publicListeners, renderMosquittoConf, socketPath } from './mosquitto-conf.js';
import { describeHolder, findPortHolder } from './port-holder.js';
import { killStaleBroker, socketAccepts, waitExit } from './process.js';
import { urlHost } from '../system/url-host.js';

/**
 * The bundled broker: Debian's mosquitto as the agent's child, configured from
 * `broker:` (mosquitto-conf.ts) in the state directory. start() resolves once mosquitto
 * accepts on the agent's socket, so the agent connects (and says READY) only then. A
 * broker that dies is logged with its last lines and started again with backoff; the
 * agent's readings wait in the outbox meanwhile. stop() comes after the agent's
 * `offline`, so subscribers see it before the broker goes.
 */

export interface BundledBrokerOptions {
  readonly settings: BrokerConfig;
  /** `<state_dir>/broker`: conf, socket, pid file and persistence. */
  readonly dir: string;
  readonly log: Logger;
  /** The mosquitto binary. @default found on PATH or in /usr/sbin */
  readonly binary?: string | undefined;
  /** How long mosquitto may take to accept. @default 10 s */
  readonly readyTimeoutMs?: number;
}

const LAST_LINES = 20;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** Up this long, a broker's next crash starts the backoff from the beginning again. */
const STABLE_MS = 60_000;
const STOP_GRACE_MS = 5_000;

export class BundledBroker {
  readonly #o: BundledBrokerOptions;
  readonly #episodes: EpisodeLog;
  #settings: BrokerConfig;
  #child: ChildProcess | undefined;
  #lines: string[] = [];
  #stopping: Promise<void> | undefined;
  #backoffMs = FIRST_BACKOFF_MS;
  #respawnTimer: NodeJS.Timeout | undefined;
  #upSince = 0;

  constructor(options: BundledBrokerOptions) {
    this.#o = options;
    this.#settings = options.settings;
    this.#episodes = new EpisodeLog({ log: options.log });
  }

  /** What the agent's client connects to: the broker's private socket. */
  get url(): string {
    return `mqtt+unix://${socketPath(this.#o.dir)}`;
  }

  /** The plain MQTT listener users connect to. */
  get address(): { host: string; port: number } {
    return { host: this.#settings.host, port: this.#settings.port };
  }

  /** The running mosquitto's PID (tests, status). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  readonly #warnFile = (message: string): void => this.#o.log.warn(message);

  async start(): Promise<void> {
    if (this.#child || this.#stopping) throw new Error('BundledBroker.start() called twice');
    const dir = this.#o.dir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700); // the socket inside gives full access: only the service user may reach it
    await killStaleBroker(dir, this.#o.log);
    await checkFiles(this.#settings, this.#warnFile);
    await this.#writeConf(this.#settings);
    await this.#launch();
    this.#logListening();
  }

  #logListening(): void {
    for (const l of publicListeners(this.#settings)) {
      const host = urlHost(l.host);
      this.#o.log.info({ url: `${l.kind}://${host}:${l.port}`, listener: l.kind, pid: this.pid }, 'bundled broker listening');
    }
  }

  /**
   * A live reload of `broker:`. Users, ACLs and limits: the conf is rewritten and mosquitto
   * re-reads it on SIGHUP, dropping nobody. Listeners: mosquitto is restarted (the agent's
   * client reconnects by itself, retained values come back from persistence); if the new
   * listeners cannot be opened the previous ones are, and the error is thrown.
   */
  async apply(next: BrokerConfig): Promise<'none' | 'hup' | 'restart'> {
    const before = this.#settings;
    const change = brokerChange(before, next);
    if (change === 'none' || this.#stopping) return 'none';
    // mosquitto cannot run without them: refuse the reload, and the running broker stays as it is.
    await checkFiles(next, this.#warnFile);
    this.#settings = next;
    await this.#writeConf(next);
    if (change === 'hup') {
      this.reload();
      return change;
    }
    clearTimeout(this.#respawnTimer); // a crashed broker waiting for its restart: this launch is that restart
    await this.#halt();
    try {
      await this.#launch();
    } catch (err) {
      this.#settings = before;
      await this.#writeConf(before);
      await this.#launch();
      throw err;
    }
    this.#logListening();
    return change;
  }

  /** SIGHUP: mosquitto re-reads its conf, password_file and acl_file (`systemctl reload w1mqtt`). */
  reload(): void {
    if (this.#child?.pid !== undefined) process.kill(this.#child.pid, 'SIGHUP');
  }

  /** Idempotent: SIGTERM (mosquitto saves its persistence), SIGKILL after 5 s. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearTimeout(this.#respawnTimer);
      await this.#halt();
      this.#episodes.flush();
    })();
    return this.#stopping;
  }

  async #writeConf(settings: BrokerConfig): Promise<void> {
    const file = join(this.#o.dir, CONF_FILE);
    // The effective user (not $USER, which sudo or a service manager may leave as someone else's).
    const user = userInfo().username;
    await writeFile(`${file}.tmp`, renderMosquittoConf(settings, { dir: this.#o.dir, user }), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  /** Spawn mosquitto and wait until it accepts on the agent's socket, or say why it did not. */
  async #launch(): Promise<void> {
    const binary = this.#o.binary ?? findMosquitto();
    if (binary === undefined) throw new Error(MOSQUITTO_MISSING);
    await rm(socketPath(this.#o.dir), { force: true });
    const conf = join(this.#o.dir, CONF_FILE);
    const setpriv = findSetpriv();
    const [command, args] = setpriv ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', binary, '-c', conf]] : [binary, ['-c', conf]];
    // Its own session: Ctrl-C in a terminal signals the whole foreground group, and the broker
    // must outlive the agent's `offline` message; the agent stops it (and pdeathsig backs that up).
    // Debian's mosquitto is built with libsystemd: given the service's NOTIFY_SOCKET it would
    // say READY=1 for the whole unit before the agent has connected.
    const { NOTIFY_SOCKET: _n, WATCHDOG_PID: _p, WATCHDOG_USEC: _u, ...env } = process.env;
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env });
    this.#child = child;
    this.#lines = [];
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    createInterface({ input: child.stderr! }).on('line', (line) => this.#logLine(line));
    const deadline = Date.now() + (this.#o.readyTimeoutMs ?? 10_000);
    for (;;) {
      const failed = await Promise.race([spawnError, waitExit(child, 50).then((gone) => (gone ? new Error('exited') : undefined))]);
      if (failed) {
        this.#child = undefined;
        throw await this.#startError(failed, child);
      }
      if (await socketAccepts(socketPath(this.#o.dir))) break;
      if (Date.now() > deadline) {
        await this.#halt();
        throw new Error(`mosquitto did not accept connections within ${this.#o.readyTimeoutMs ?? 10_000} ms; its last lines: ${this.#lines.join(' | ')}`);
      }
    }
    this.#upSince = Date.now();
    child.once('exit', (code, signal) => this.#exited(child, code, signal));
  }

  async #startError(err: Error, child: ChildProcess): Promise<Error> {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Error(MOSQUITTO_MISSING);
    await new Promise((resolve) => setImmediate(resolve)); // the last stderr lines
    const last = this.#lines.join(' | ');
    if (/address already in use/i.test(last)) {
      for (const l of publicListeners(this.#settings)) {
        const holder = await findPortHolder(l.port);
        if (holder) return new Error(`broker port ${l.port} (${l.host}) is already in use, ${describeHolder(l.port, holder)}: stop that (e.g. sudo systemctl disable --now mosquitto) or set broker.port in sensors.yaml`);
      }
    }
    return new Error(`mosquitto exited at start (${child.exitCode ?? child.signalCode}): ${last || errText(err)}`);
  }

  #logLine(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > LAST_LINES) this.#lines.shift();
    const c = classifyBrokerLine(line);
    if (c.kind) this.#episodes.report(c.kind, c.msg, { client: c.client, line });
    else this.#o.log[c.level]({ mosquitto: true }, c.msg);
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return; // stopped on purpose (#halt cleared it)
    this.#child = undefined;
    if (Date.now() - this.#upSince > STABLE_MS) this.#backoffMs = FIRST_BACKOFF_MS;
    this.#o.log.error({ code, signal, last: this.#lines.slice(-5), restartInMs: this.#backoffMs }, 'bundled broker exited: starting it again');
    this.#scheduleRespawn();
  }

  #scheduleRespawn(): void {
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
    this.#respawnTimer = setTimeout(() => {
      if (this.#stopping || this.#child) return;
      this.#launch().then(
        () => this.#o.log.info({ pid: this.pid }, 'bundled broker running again'),
        (err: unknown) => {
          this.#o.log.error({ err: errText(err), restartInMs: this.#backoffMs }, 'bundled broker did not start again');
          if (!this.#stopping) this.#scheduleRespawn();
        },
      );
    }, wait);
  }

  /** Stop the current child, if any, and wait for it (bounded). */
  async #halt(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await waitExit(child, STOP_GRACE_MS))) {
      child.kill('SIGKILL');
      await waitExit(child, STOP_GRACE_MS);
    }
  }
}

/** The files `broker:` names, readable by this user (mosquitto runs as the same one), or an error naming the key. */
async function checkFiles(settings: BrokerConfig, warn?: (message: string) => void): Promise<void> {
  const files: [string, string | undefined][] = [
    ['broker.password_file', settings.password_file],
    ['broker.acl_file', settings.acl_file],
    ['broker.tls.cert_file', settings.tls?.cert_file],
    ['broker.tls.key_file', settings.tls?.key_file],
    ['broker.tls.ca_file', settings.tls?.ca_file],
  ];
  for (const [key, file] of files) {
    if (file === undefined) continue;
    try {
      // Opened as mosquitto (the same user) will: unreadable files fail here. mosquitto reads
      // them itself, so a FIFO would hang it at start and /dev/zero would swell it.
      const stats = await checkSmallFile(file, MAX_TLS_FILE_BYTES);
      const others = key === 'broker.password_file' || key === 'broker.acl_file' ? writableByOthers(stats) : undefined;
      if (others) warn?.(`${key} ${file} is ${others}-writable: anyone who can write it can add a user or a rule (sudo chmod 0640 ${file})`);
    } catch (err) {
      if (err instanceof SmallFileError) throw new Error(`${key}: ${file} is refused: ${err.message}`, { cause: err });
      throw new Error(`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? errText(err)}); the service user must be able to read it (e.g. sudo chown root:w1 ${file}; sudo chmod 0640 ${file})`, { cause: err });
    }
  }
}
