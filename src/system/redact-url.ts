/**
 * A URL fit to show in a log or on the page: users may write the broker's password into
 * `mqtt.url` (`mqtt://pi:s3cret@host`), and neither the journal nor the page may repeat it.
 *
 * `drop: 'password'` keeps the user name (a log reader wants to know who the agent logs in
 * as); `'credentials'` drops it too (the page may be open to the network). A URL that the
 * WHATWG parser refuses (`mqtt+unix://pi:s3cret@/run/…` has credentials but no host) loses
 * everything between `//` and `@` whatever `drop` says.
 */
export function redactUrl(url: string, drop: 'password' | 'credentials' = 'password'): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '' && (drop === 'password' || parsed.username === '')) return url;
    parsed.password = '';
    if (drop === 'credentials') parsed.username = '';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
