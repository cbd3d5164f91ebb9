import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AedesPublishPacket, AuthenticateError, AuthErrorCode, Client, PublishPacket, Subscription } from 'aedes';
import type { BrokerConfig } from '../config/schema.js';
import type { EpisodeLog } from './episode-log.js';
import { verifyPassword } from './passwords.js';
import { filtersOverlap, substitute, topicMatches } from './topic-match.js';

/**
 * Who may connect to the bundled broker and what each client may publish and
 * read: aedes' authenticate / authorizePublish / authorizeSubscribe /
 * authorizeForward hooks (node_modules/aedes/docs/Aedes.md), with mosquitto's
 * semantics where it has them (allow_anonymous, per-user read/write filters with
 * %u and %c, denied reads filtered at delivery).
 *
 * The agent's own connection is recognised by a credential generated per run and
 * kept in memory, never by client id (anyone can send any client id); a stranger
 * using the agent's client id is refused, so it cannot take the agent's session
 * over (MQTT-3.1.4-2 would otherwise disconnect the agent).
 */

export interface AgentIdentity {
  readonly clientId: string;
  /** The agent's own topics (sensors, status, stats, discovery): only it may publish there. */
  ownsTopic(topic: string): boolean;
}

type AuthSettings = Pick<BrokerConfig, 'allow_anonymous' | 'users' | 'protect_agent_topics'>;

export interface BrokerAuthOptions {
  /** Read at every check, so a live reload of users and ACLs applies to the next CONNECT, PUBLISH or SUBSCRIBE. */
  readonly settings: () => AuthSettings;
  readonly agent?: AgentIdentity | undefined;
  readonly episodes: EpisodeLog;
  /** Called when the agent's connection has authenticated (the broker stops counting it as a guest). */
  readonly onAgent?: (client: Client) => void;
}

/** CONNACK return codes, MQTT 3.1.1 table 3.1. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;
/** scrypt runs on libuv's thread pool, which the 1-Wire reads share: one check at a time, a short queue. */
const MAX_WAITING_CHECKS = 16;

/** Errors this module has already logged; broker.ts does not log them again. */
export interface LoggedError extends Error {
  readonly logged: true;
}

export class BrokerAuth {
  /** What the agent's MQTT client connects with. Never written anywhere. */
  readonly credential: { readonly username: string; readonly password: string };
  readonly #o: BrokerAuthOptions;
  readonly #agents = new WeakSet<Client>();
  readonly #usernames = new WeakMap<Client, string | undefined>();
  #checking: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  constructor(options: BrokerAuthOptions) {
    this.#o = options;
    this.credential = { username: `w1mqtt-agent-${randomBytes(6).toString('hex')}`, password: randomBytes(32).toString('base64url') };
  }

  isAgent(client: Client | null): boolean {
    return client !== null && this.#agents.has(client);
  }

  readonly authenticate = (client: Client, username: Readonly<string> | undefined, password: Readonly<Buffer> | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void => {
    const refuse = (returnCode: AuthErrorCode, kind: string, msg: string): void => {
      this.#o.episodes.report(kind, msg, { clientId: client.id, username, remote: remoteOf(client) });
      const error: AuthenticateError & LoggedError = Object.assign(new Error(msg), { returnCode, logged: true as const });
      done(error, false);
    };
    const { credential } = this;
    if (username === credential.username) {
      if (!password || !sameSecret(password, credential.password)) return refuse(BAD_CREDENTIALS, 'auth_failed', 'client refused: bad username or password');
      this.#agents.add(client);
      this.#o.onAgent?.(client);
      return done(null, true);
    }
    if (this.#o.agent && client.id === this.#o.agent.clientId) {
      return refuse(IDENTIFIER_REJECTED, 'client_id_taken', "client refused: it uses the agent's client id");
    }
    const { users, allow_anonymous } = this.#o.settings();
    if (username === undefined) {
      if (allow_anonymous ?? Object.keys(users).length === 0) return this.#accept(client, undefined, done);
      return refuse(NOT_AUTHORIZED, 'anonymous_refused', 'client refused: anonymous clients are not allowed (broker.users is set)');
    }
    const user = Object.hasOwn(users, username) ? users[username] : undefined;
    if (!user || !password) return refuse(BAD_CREDENTIALS, 'auth_failed', 'client refused: bad username or password');
    if (this.#waiting >= MAX_WAITING_CHECKS) return refuse(SERVER_UNAVAILABLE, 'auth_busy', 'client refused: too many logins at once');
    this.#waiting++;
    const check = this.#checking.then(() => verifyPassword(user.password, password.toString('utf8')));
    this.#checking = check.catch(() => false);
    check.then(
      (ok) => {
        this.#waiting--;
        if (ok) this.#accept(client, username, done);
        else refuse(BAD_CREDENTIALS, 'auth_failed', 'client refused: bad username or password');
      },
      () => {
        this.#waiting--;
        refuse(BAD_CREDENTIALS, 'auth_failed', 'client refused: bad username or password');
      },
    );
  };

  #accept(client: Client, username: string | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    this.#usernames.set(client, username);
    done(null, true);
  }

  readonly authorizePublish = (client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void => {
    const { topic } = packet;
    if (this.isAgent(client)) return done(null);
    if (topic.startsWith('$SYS')) return done(this.#deny(client, topic, 'publish_denied', 'publish refused: $SYS topics belong to the broker'));
    if (this.#o.settings().protect_agent_topics && this.#o.agent?.ownsTopic(topic)) {
      return done(this.#deny(client, topic, 'agent_topic_denied', "publish refused: only the agent publishes to its own topics (broker.protect_agent_topics)"));
    }
    const write = client ? this.#acl(client)?.write : undefined;
    if (write && client && !write.some((f) => topicMatches(this.#expand(f, client), topic))) {
      return done(this.#deny(client, topic, 'acl_denied', 'publish refused by the ACL (broker.users.*.write)'));
    }
    // A denied PUBLISH closes the connection: MQTT-3.3.5-2 allows that or a silent drop, and aedes only offers the first.
    done(null);
  };

  readonly authorizeSubscribe = (client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void => {
    const read = this.isAgent(client) ? undefined : this.#acl(client)?.read;
    if (read && !read.some((f) => filtersOverlap(this.#expand(f, client), sub.topic))) {
      this.#o.episodes.report('acl_subscribe_denied', 'subscription refused by the ACL (broker.users.*.read)', { clientId: client.id, username: this.#usernames.get(client), topic: sub.topic });
      return done(null, null); // SUBACK 0x80 for this filter (MQTT-3.9.3)
    }
    done(null, sub);
  };

  /** Reads are checked per message too, like mosquitto: `#` may be granted, but only allowed topics arrive. */
  readonly authorizeForward = (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null => {
    const read = this.isAgent(client) ? undefined : this.#acl(client)?.read;
    if (!read) return packet;
    return read.some((f) => topicMatches(this.#expand(f, client), packet.topic)) ? packet : null;
  };

  /** A user's filters; undefined when the user has none (or is anonymous): no restriction beyond the agent's topics. */
  #acl(client: Client): { read: readonly string[]; write: readonly string[] } | undefined {
    const username = this.#usernames.get(client);
    const users = this.#o.settings().users;
    const user = username === undefined || !Object.hasOwn(users, username) ? undefined : users[username];
    if (!user || (user.read === undefined && user.write === undefined)) return undefined;
    return { read: user.read ?? [], write: user.write ?? [] };
  }

  #expand(filter: string, client: Client): string {
    return substitute(filter, { username: this.#usernames.get(client) ?? '', clientId: client.id });
  }

  #deny(client: Client | null, topic: string, kind: string, msg: string): LoggedError {
    this.#o.episodes.report(kind, msg, { clientId: client?.id, username: client ? this.#usernames.get(client) : undefined, topic });
    return logged(new Error(msg));
  }
}

function logged(err: Error): LoggedError {
  return Object.assign(err, { logged: true as const });
}

function sameSecret(given: Readonly<Buffer>, expected: string): boolean {
  const want = Buffer.from(expected, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

function remoteOf(client: Client): string | undefined {
  const conn = client.conn as { remoteAddress?: unknown };
  return typeof conn.remoteAddress === 'string' ? conn.remoteAddress : undefined;
}
