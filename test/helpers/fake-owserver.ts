import { createServer, type Socket } from 'node:net';

/**
 * An in-process stand-in for owserver on 127.0.0.1:<random port>, for the protocol
 * cases a real owserver will not produce on demand (short reads, pings, bad lengths,
 * hang-ups). It parses requests itself (not with the code under test) and lets each
 * test script the bytes of the answer.
 */

export interface FakeRequest {
  readonly type: number;
  readonly flags: number;
  readonly size: number;
  readonly path: string;
  readonly data: Buffer;
  /** Which accepted connection (0, 1, …) carried it. */
  readonly connection: number;
}

export type Handler = (request: FakeRequest, socket: Socket) => void | Promise<void>;

export interface FakeOwserver {
  readonly port: number;
  readonly requests: FakeRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Connections the client has closed so far. */
  closedByClient(): number;
  close(): Promise<void>;
}

/** A response header (+ body): `payload` defaults to the body length, `size` to it too. */
export function answer(opts: { ret: number; flags?: number; body?: Buffer | string; payload?: number; size?: number }): Buffer {
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'latin1') : (opts.body ?? Buffer.alloc(0));
  const header = Buffer.alloc(24);
  header.writeInt32BE(0, 0);
  header.writeInt32BE(opts.payload ?? body.length, 4);
  header.writeInt32BE(opts.ret, 8);
  header.writeInt32BE(opts.flags ?? 0, 12);
  header.writeInt32BE(opts.size ?? body.length, 16);
  header.writeInt32BE(0, 20);
  return Buffer.concat([header, body]);
}

/** owserver's keep-alive: a bare header with payload −1 (owserver/src/c/ping.c). */
export const PING = answer({ ret: 0, payload: -1 });

export async function startFakeOwserver(handler: Handler): Promise<FakeOwserver> {
  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closedByClient = 0;
  const server = createServer((socket) => {
    const connection = accepted++;
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    let closing = false;
    socket.on('error', () => undefined);
    socket.on('end', () => {
      closedByClient++;
      closing = true;
      socket.end();
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 24 && !closing) {
        const payload = buffered.readInt32BE(4);
        if (buffered.length < 24 + payload) return;
        const body = buffered.subarray(24, 24 + payload);
        const nul = body.indexOf(0);
        const request: FakeRequest = {
          type: buffered.readInt32BE(8),
          flags: buffered.readInt32BE(12),
          size: buffered.readInt32BE(16),
          path: body.subarray(0, nul < 0 ? body.length : nul).toString('utf8'),
          data: Buffer.from(body.subarray(nul < 0 ? body.length : nul + 1)),
          connection,
        };
        buffered = buffered.subarray(24 + payload);
        requests.push(request);
        void handler(request, socket);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    requests,
    connections: () => accepted,
    closedByClient: () => closedByClient,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Write `bytes` a few at a time, each piece in its own TCP segment (setNoDelay + a pause). */
export async function writeInPieces(socket: Socket, bytes: Buffer, pieceSize: number): Promise<void> {
  socket.setNoDelay(true);
  for (let i = 0; i < bytes.length && !socket.destroyed; i += pieceSize) {
    socket.write(bytes.subarray(i, i + pieceSize));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
