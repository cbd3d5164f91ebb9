import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../config/loopback.js';

/**
 * Who may see the page. With a password: HTTP Basic (RFC 7617), compared in
 * constant time. Without one the server listens on loopback only (the config
 * refuses anything else unless allow_anonymous), and then it also checks the Host
 * header: a web page elsewhere cannot rebind its own DNS name to 127.0.0.1 and
 * read the API from the victim's browser (the "DNS rebinding" attack).
 */

/** `guess`: a 401 for a user name and password that were given but wrong (not a first visit without them). */
export type AccessDecision = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 421; readonly message: string; readonly guess?: boolean };

export interface AccessOptions {
  readonly username: string;
  /** undefined: no password asked. */
  readonly password: string | undefined;
  /** Accept any Host header (listening off loopback with allow_anonymous, or with a password). */
  readonly anyHost: boolean;
}

export class AccessControl {
  readonly #o: AccessOptions;
  readonly #expected: Buffer | undefined;

  constructor(options: AccessOptions) {
    this.#o = options;
    this.#expected = options.password === undefined ? undefined : digest(`${options.username}:${options.password}`);
  }

  get passwordRequired(): boolean {
    return this.#expected !== undefined;
  }

  check(req: IncomingMessage): AccessDecision {
    if (this.#expected) {
      const given = basicCredentials(req.headers.authorization);
      // Hash both sides so the comparison takes the same time whatever the lengths.
      if (given === undefined || !timingSafeEqual(digest(given), this.#expected)) {
        return { ok: false, status: 401, message: 'w1mqtt: this page needs the user name and password set in sensors.yaml (web.username, web.password_file)\n', guess: given !== undefined };
      }
      return { ok: true };
    }
    if (!this.#o.anyHost && !isLoopbackHost(hostOnly(req.headers.host ?? ''))) {
      return {
        ok: false,
        status: 421,
        message: 'w1mqtt: this page answers to localhost / 127.0.0.1 only; open it through an SSH tunnel, or set web.host and web.password_file in sensors.yaml\n',
      };
    }
    return { ok: true };
  }
}

/** `user:password` from an `Authorization: Basic …` header. */
function basicCredentials(header: string | undefined): string | undefined {
  const m = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  return text.includes(':') ? text : undefined;
}

/** The host part of a Host header: `[::1]:8080` → `::1`, `localhost:8080` → `localhost`. */
export function hostOnly(header: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(header);
  if (bracketed) return bracketed[1] ?? '';
  const i = header.lastIndexOf(':');
  return i >= 0 && header.indexOf(':') === i ? header.slice(0, i) : header;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
