/** A host as it goes before `:port` in an address or URL: an IPv6 one in brackets (RFC 3986 §3.2.2). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
