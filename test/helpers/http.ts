import { request } from 'node:http';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * One plain HTTP request with node:http, the path sent exactly as given (no URL
 * normalisation, so `/../x` reaches the server as written). Bounded in time.
 */
export function http(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${path}: no answer within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function getJson<T>(port: number, path: string): Promise<T> {
  const res = await http(port, path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as T;
}

/** The first `event:`/`data:` record of an SSE stream, then the connection is closed. */
export function firstEvent(port: number, path: string, timeoutMs = 10_000): Promise<{ status: number; type: string | undefined; event: string; data: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const m = /event: (\S+)\ndata: (.*)\n\n/.exec(text);
        if (!m) return;
        req.destroy();
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], event: m[1] ?? '', data: JSON.parse(m[2] ?? 'null') });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no event on ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// The page tests poll with http(): the shared polling helper, from here too.
export { eventually } from './until.js';
