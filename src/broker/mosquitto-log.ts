/**
 * Pure: where one line of mosquitto's log belongs in the agent's log. mosquitto 2.0
 * writes plain sentences without a severity (log_dest stderr, log_timestamp false), so
 * the level comes from the wording, as found in its src/ (log__printf calls).
 *
 * Lines about a single client's misbehaviour carry a `kind`: the agent logs such a fault
 * when an episode starts and when it ends (broker/episode-log.ts), never once per client,
 * so a connection flood is two lines, not a thousand.
 */

export type BrokerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface BrokerLogLine {
  readonly level: BrokerLogLevel;
  readonly msg: string;
  /** Recurring client faults: logged per episode. */
  readonly kind?: string;
  /** The client the line names, when it names one. */
  readonly client?: string;
}

const EPISODES: readonly [RegExp, string, string][] = [
  [/^Client (\S+) disconnected, not authori[sz]ed\.?$/, 'auth_failed', 'client refused: bad username or password, or not allowed'],
  [/^Client (\S+) disconnected due to protocol error\.?$/, 'protocol_error', 'client dropped: protocol error (malformed packet)'],
  [/^Client (\S+) disconnected due to malformed packet\.?$/, 'malformed_packet', 'client dropped: malformed packet'],
  [/^Client (\S+) has exceeded timeout, disconnecting\.?$/, 'keepalive_timeout', 'client dropped: keepalive timeout'],
  [/^Client (\S+) already connected, closing old connection\.?$/, 'client_id_taken', 'a client connected with a client id already in use: the older connection was closed'],
  [/^Outgoing messages are being dropped for client (\S+)\.?$/, 'slow_subscriber', 'messages dropped for a subscriber that reads too slowly (broker.max_queued_messages)'],
  [/^Client connection from (\S+) denied: max_connections exceeded\.?$/, 'connection_limit', 'connection refused: broker.max_connections reached'],
  [/^Client (\S+) disconnected due to oversize packet\.?$/, 'oversized_packet', 'client dropped: packet larger than broker.max_packet_size'],
];

/** Routine traffic and start-up chatter the agent says in its own words. */
const DEBUG = [
  /^New connection from /,
  /^New client connected from /,
  /^Client \S+ disconnected\.?$/,
  /^Client \S+ closed its connection\.?$/,
  /^Socket error on client /,
  /^Config loaded from /,
  /^Opening .* (socket|listen)/,
  /^mosquitto version \S+ running$/,
  /^Saving in-memory database/,
  /^Loading persistence /,
];

export function classifyBrokerLine(raw: string): BrokerLogLine {
  const msg = raw.trim();
  for (const [re, kind, text] of EPISODES) {
    const m = re.exec(msg);
    if (m) return { level: 'warn', msg: text, kind, ...(m[1] === undefined ? {} : { client: m[1] }) };
  }
  if (/^Error\b/i.test(msg)) return { level: 'error', msg };
  if (/^Warning\b/i.test(msg)) return { level: 'warn', msg };
  if (DEBUG.some((re) => re.test(msg))) return { level: 'debug', msg };
  return { level: 'info', msg };
}
