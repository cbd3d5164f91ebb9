import { isIPv4, isIPv6 } from 'node:net';

/**
 * True when a listen address only reaches this machine: `localhost`, 127.0.0.0/8
 * (RFC 1122 §3.2.1.3: "a datagram sent … to a loopback address … MUST NOT appear
 * on any network"), ::1, or ::ffff:127.x.y.z. A wildcard (0.0.0.0, ::) or any other
 * address can be reached from the network, so it needs a password.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true; // RFC 6761 §6.3
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    if (/^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === '::1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && (mapped[1] ?? '').startsWith('127.');
  }
  return false;
}

/**
 * The address to bind for a configured host. `localhost` and `*.localhost` are loopback by
 * name (RFC 6761 §6.3), so they are bound as 127.0.0.1 whatever a resolver answers: the
 * config check judged them loopback, and an /etc/hosts line mapping `pi.localhost` to a LAN
 * address must not open the page or the broker to the network without a password.
 */
export function listenAddress(host: string): string {
  const h = host.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') ? '127.0.0.1' : host;
}
