/**
 * What a closed connection means, read from the CONNACK code or the error MQTT.js
 * reported: refused credentials (worth an error that names the settings to fix), or a
 * broker that does not speak MQTT 5 (worth a fallback to 3.1.1, not an outage).
 */

/** The Protocol Level byte of CONNECT (MQTT-3.1.2.2): 4 is MQTT 3.1.1, 5 is MQTT 5. */
export type ProtocolLevel = 4 | 5;

/** CONNACK refusals that mean "fix your credentials": 3.1.1 return codes 4/5 (MQTT-3.2.2.3), v5 reason codes 0x86/0x87. */
const AUTH_CODES: Readonly<Record<ProtocolLevel, ReadonlySet<number>>> = { 4: new Set([4, 5]), 5: new Set([134, 135]) };

/**
 * A broker's "I do not speak this version" to a v5 CONNECT: the 3.1.1 return code 1,
 * Unacceptable protocol version (MQTT-3.1.2-2; a 3.1.1 CONNACK parses under v5 with this
 * as its reason code), and the MQTT 5 reason code 0x84, Unsupported Protocol Version (MQTT-3.1.2-2, v5).
 */
const PROTOCOL_REFUSED = new Set([1, 0x84]);

export type ErrorCode = string | number | undefined;

/** The `code` MQTT.js puts on its errors: a CONNACK code (number) or a socket errno (string). */
export function errorCode(err: Error): ErrorCode {
  const code: unknown = (err as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? code : undefined;
}

export function isAuthRefusal(level: ProtocolLevel, code: ErrorCode): boolean {
  return typeof code === 'number' && AUTH_CODES[level].has(code);
}

export function isProtocolRefusal(code: ErrorCode): boolean {
  return typeof code === 'number' && PROTOCOL_REFUSED.has(code);
}

/**
 * Whether the connection that just closed was a v5 CONNECT the broker refused for its
 * version: a CONNACK with a PROTOCOL_REFUSED code (MQTT.js's handlers/connack.js emits it
 * as an ErrorWithReasonCode whose `code` is the reason code, then closes), or a close
 * with no CONNACK and no error at all, which is how some 3.1.1 brokers answer a level
 * they do not know. A refused TCP connection, a TLS failure or a CONNACK timeout each
 * come with an error, so they never count; nor does a silent close once 5 has worked
 * with this broker (`spoke5`), or after a connection that was up.
 */
export function refusedV5(level: ProtocolLevel, code: ErrorCode, err: Error | undefined, wasUp: boolean, spoke5: boolean): boolean {
  if (level !== 5) return false;
  if (typeof code === 'number') return PROTOCOL_REFUSED.has(code);
  return err === undefined && !wasUp && !spoke5;
}
