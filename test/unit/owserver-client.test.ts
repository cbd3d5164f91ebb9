import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { OwserverClient, OwserverError } from '../../src/sources/owserver-client.js';
import { FLAG, MSG } from '../../src/sources/owserver-protocol.js';
import { answer, PING, startFakeOwserver, writeInPieces } from '../helpers/fake-owserver.js';
import { freePort } from '../helpers/ports.js';

/** The owserver client's socket handling against an in-process fake: the cases a real owserver will not produce on demand. */

const T = { timeout: 20_000 };
const P = FLAG.persistent;
const READ = { type: MSG.read, path: '/uncached/28.FF2D79A21603/temperature', flags: FLAG.trim } as const;

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<OwserverError> {
  const err = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OwserverError, String(err));
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

test('client: pings then an answer, all cut into 3-byte pieces (short reads), give the whole answer', T, async (t) => {
  const server = await startFakeOwserver(async (_req, socket) => {
    await writeInPieces(socket, Buffer.concat([PING, PING, answer({ ret: 7, flags: P | FLAG.trim, body: '23.1250' })]), 3);
  });
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
  t.after(() => client.close());
  const r = await client.request(READ);
  assert.equal(r.ret, 7);
  assert.equal(r.body.toString(), '23.1250');
  assert.equal(server.requests[0]?.path, READ.path);
  assert.equal(server.requests[0]?.flags, FLAG.trim | P, 'PERSISTENT is always asked for');
});

test('client: pings between header-complete answers are skipped (owserver pings every second of a slow read)', T, async (t) => {
  const server = await startFakeOwserver((_req, socket) => {
    socket.write(Buffer.concat([PING, PING, PING, answer({ ret: 1, flags: P, body: '4' })]));
  });
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
  t.after(() => client.close());
  assert.equal((await client.request(READ)).body.toString(), '4');
});

test('client: a huge payload length is refused at once (EPROTO), without waiting for or allocating the body', T, async (t) => {
  const server = await startFakeOwserver((_req, socket) => {
    socket.write(answer({ ret: 0, flags: P, payload: 200_000_000 })); // header only; the connection stays open
  });
  t.after(() => server.close());
  // A 60 s timeout: only the header check can end this request in time.
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 60_000 });
  t.after(() => client.close());
  await rejectsWith(client.request(READ), 'EPROTO', /200000000 bytes.*0…100050/);
});

test('client: a connection closed in the middle of a body is an error, not a short value', T, async (t) => {
  const server = await startFakeOwserver((_req, socket) => {
    const full = answer({ ret: 12, flags: P, body: '     21.4375' });
    socket.end(full.subarray(0, 30));
  });
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 10_000 });
  t.after(() => client.close());
  await rejectsWith(client.request(READ), 'ECONNRESET', /in the middle of an answer/);
  assert.equal(server.requests.length, 1, 'a half-answered request is not sent again');
});

test('client: a server that never answers times out and the connection is dropped', T, async (t) => {
  const server = await startFakeOwserver(() => undefined);
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 300 });
  t.after(() => client.close());
  await rejectsWith(client.request(READ), 'ETIMEDOUT', /did not answer \/uncached\/28\.FF2D79A21603\/temperature within 300 ms/);
  const deadline = Date.now() + 5_000;
  while (server.closedByClient() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.closedByClient(), 1, 'a timed-out connection is out of step and must be closed');
});

test('client: one connection while persistence is granted; a new one when it is not', T, async (t) => {
  let grant = true;
  const server = await startFakeOwserver((_req, socket) => {
    socket.write(answer({ ret: 1, flags: grant ? P : 0, body: '1' }));
    if (!grant) socket.end();
  });
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000 });
  t.after(() => client.close());
  for (let i = 0; i < 3; i++) await client.request(READ);
  assert.equal(server.connections(), 1);
  grant = false;
  await client.request(READ);
  await client.request(READ);
  assert.deepEqual(
    server.requests.map((r) => r.connection),
    [0, 0, 0, 0, 1],
  );
});

test('client: a persistent connection the server hangs up on is replaced without an error', T, async (t) => {
  const server = await startFakeOwserver((req, socket) => {
    const reply = answer({ ret: 1, flags: P, body: '1' });
    // The first connection grants persistence, then closes at once (owserver's
    // persistence timeout at the worst moment): the next request must not fail.
    if (req.connection === 0) socket.end(reply);
    else socket.write(reply);
  });
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000 });
  t.after(() => client.close());
  for (let i = 0; i < 3; i++) assert.equal((await client.request(READ)).ret, 1);
  assert.equal(server.connections(), 2);
});

test('client: idle connections are closed so a SIGTERMed owserver can exit', T, async (t) => {
  const server = await startFakeOwserver((_req, socket) => void socket.write(answer({ ret: 1, flags: P, body: '1' })));
  t.after(() => server.close());
  const client = new OwserverClient({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000, idleMs: 50 });
  t.after(() => client.close());
  await client.request(READ);
  await client.request(READ);
  const deadline = Date.now() + 5_000;
  while (server.closedByClient() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.connections(), 1, 'back-to-back requests share one connection');
  assert.equal(server.closedByClient(), 1);
});

test('client: nothing listening gives a clear ECONNREFUSED, retried only after a backoff', T, async (t) => {
  const port = await freePort();
  let now = 1_000_000;
  const client = new OwserverClient({ host: '127.0.0.1', port, timeoutMs: 2_000, backoffMs: 500, now: () => now });
  t.after(() => client.close());
  const first = await rejectsWith(client.request(READ), 'ECONNREFUSED', new RegExp(`nothing listens on 127\\.0\\.0\\.1:${port}: is owserver running`));
  const second = await rejectsWith(client.request(READ), 'ECONNREFUSED');
  assert.equal(second, first, 'inside the backoff no new connection is tried');
  now += 600;
  const server = await startFakeOwserverOn(port);
  t.after(() => server.close());
  assert.equal((await client.request(READ)).ret, 1, 'after the backoff it connects again');
});

/** A fake on a given port (the one the client was refused on). */
async function startFakeOwserverOn(port: number): Promise<{ close(): Promise<void> }> {
  const server = createServer((socket) => {
    socket.once('data', () => socket.write(answer({ ret: 1, flags: P, body: '1' })));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, resolve);
  });
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
