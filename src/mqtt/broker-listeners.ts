import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { errText } from '../system/err-text.js';

/**
 * The bundled broker's listeners: plain MQTT over TCP, MQTT over TLS (mosquitto's
 * certfile/keyfile) and MQTT over WebSocket (subprotocol `mqtt`, MQTT 3.1.1
 * section 6), each handing every new connection to one `accept` function as a
 * duplex stream with its remote address.
 */

export type Accept = (stream: Duplex, remoteAddress: string | undefined) => void;

export interface Listener {
  readonly kind: 'mqtt' | 'mqtts' | 'ws';
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function listenTcp(host: string, port: number, accept: Accept): Promise<Listener> {
  const server = createNetServer((socket) => accept(socket, socket.remoteAddress));
  return listen(server, 'mqtt', host, port);
}

export async function listenTls(host: string, port: number, files: { cert_file: string; key_file: string }, accept: Accept): Promise<Listener> {
  const [cert, key] = await Promise.all([read(files.cert_file, 'broker.tls.cert_file'), read(files.key_file, 'broker.tls.key_file')]);
  let server;
  try {
    server = createTlsServer({ cert, key }, (socket) => accept(socket, socket.remoteAddress));
  } catch (err) {
    throw new Error(`broker.tls: cannot use ${files.cert_file} / ${files.key_file}: ${errText(err)}`, { cause: err });
  }
  // A failed handshake (a plain-MQTT client on the TLS port, a bad certificate) is that client's problem.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  return listen(server, 'mqtts', host, port);
}

export async function listenWebSocket(host: string, port: number, accept: Accept): Promise<Listener> {
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSocket: connect with a WebSocket client (subprotocol "mqtt")\n');
  });
  // Browsers' MQTT clients offer `mqtt` (3.1.1) or `mqttv3.1`; take whichever is offered.
  const wss = new WebSocketServer({
    server: http,
    handleProtocols: (protocols) => [...protocols].find((p) => p === 'mqtt' || p === 'mqttv3.1') ?? false,
  });
  wss.on('connection', (ws, req: IncomingMessage) => {
    const stream = createWebSocketStream(ws);
    stream.on('error', () => stream.destroy());
    accept(stream, req.socket.remoteAddress);
  });
  wss.on('error', () => undefined); // errors also reach the http server, which listen() reports
  const listener = await listen(http, 'ws', host, port);
  return {
    ...listener,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await listener.close();
    },
  };
}

async function listen(server: NetServer | HttpServer, kind: Listener['kind'], host: string, port: number): Promise<Listener> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw listenError(err, kind, host, port);
  }
  server.on('error', () => undefined);
  const bound = server.address();
  return {
    kind,
    host,
    port: typeof bound === 'object' && bound !== null ? bound.port : port,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // server.close() waits for every open connection; clients reconnect forever, so end them.
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}

async function read(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${errText(err)}`, { cause: err });
  }
}

function listenError(err: unknown, kind: Listener['kind'], host: string, port: number): Error {
  const code = (err as { code?: unknown }).code;
  const key = kind === 'mqtt' ? 'broker.port' : kind === 'mqtts' ? 'broker.tls.port' : 'broker.websocket.port';
  if (code === 'EADDRINUSE') {
    return new Error(
      `port ${port} on ${host} is already in use (another MQTT broker such as mosquitto?): ` +
        `set ${key} in sensors.yaml${kind === 'mqtt' ? ' or use mqtt.url to publish to that broker instead' : ''}`,
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new Error(`not allowed to listen on port ${port} on ${host} (ports below 1024 need root): set ${key} in sensors.yaml`, { cause: err });
  }
  if (code === 'EADDRNOTAVAIL') {
    return new Error(`${host} is not an address of this machine: set broker.host in sensors.yaml`, { cause: err });
  }
  const message = errText(err);
  return new Error(`bundled broker cannot listen on ${host}:${port}: ${message}`, { cause: err });
}
