import { connect, createServer, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A TCP relay on 127.0.0.1 between the agent and a broker that can go silent: in
 * `blackhole()` every connection stays open but whatever either side sends is thrown
 * away, the way a dropped Wi-Fi link looks to a client before its keepalive expires
 * (writes succeed, no acknowledgement ever comes). `restore()` closes those and relays
 * new connections again.
 */

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  let silent = false;
  const open = new Set<Socket>();
  const track = (s: Socket): void => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    client.on('data', (d) => void (silent || upstream.write(d)));
    upstream.on('data', (d) => void (silent || client.write(d)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    blackhole: () => void (silent = true),
    restore() {
      for (const s of open) s.destroy();
      silent = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
