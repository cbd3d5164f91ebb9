import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { FLAG, MSG } from '../../src/sources/owserver-protocol.js';
import { OwserverSource, probeOwserver } from '../../src/sources/owserver.js';
import { detectSources } from '../../src/sources/registry.js';
import type { Device } from '../../src/readings/device.js';
import { answer, startFakeOwserver } from '../helpers/fake-owserver.js';
import { freePort } from '../helpers/ports.js';

/** The owserver source and auto-detection against an in-process fake owserver. */

const T = { timeout: 20_000 };
const P = FLAG.persistent;

function device(name: string, bus: string): Device {
  const id = parseDeviceId(name);
  assert.ok(id);
  return { id, name, bus, chip: 'DS18B20' };
}

test('source: owserver error codes become reading errors', T, async (t) => {
  const replies: Record<string, Buffer> = {
    '/uncached/28.000000000001/temperature': answer({ ret: -1, flags: P }),
    '/uncached/28.000000000002/temperature': answer({ ret: -2, flags: P }),
    '/uncached/28.000000000003/temperature': answer({ ret: -5, flags: P }),
    '/28.000000000003': answer({ ret: 0, flags: P, body: Buffer.alloc(8) }),
    '/uncached/28.000000000004/temperature': answer({ ret: -5, flags: P }),
    '/28.000000000004': answer({ ret: -1, flags: P }),
    '/uncached/28.000000000005/temperature': answer({ ret: 12, flags: P, body: '          85' }),
    '/uncached/28.000000000006/temperature': answer({ ret: 5, flags: P, body: 'hello' }),
  };
  const server = await startFakeOwserver((req, socket) => void socket.write(replies[req.path] ?? answer({ ret: -1, flags: P })));
  t.after(() => server.close());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000, uncached: true });
  t.after(() => source.close());
  const read = (n: number) => source.read(device(`28.00000000000${n}`, source.name));
  assert.deepEqual(await read(1), { ok: false, error: { code: 'not_present' } });
  assert.deepEqual(await read(2), { ok: false, error: { code: 'not_present' } });
  assert.deepEqual(await read(3), { ok: false, error: { code: 'io_error', errno: 'EIO', message: `owserver 127.0.0.1:${server.port} answered EIO for /uncached/28.000000000003/temperature` } });
  assert.deepEqual(await read(4), { ok: false, error: { code: 'not_present' } }, 'EIO, and PRESENCE says it left the bus');
  assert.deepEqual(await read(5), { ok: true, milli: 85_000 }, 'a padded value parses (owserver without TRIM)');
  assert.deepEqual(await read(6), { ok: false, error: { code: 'parse_error', raw: 'hello' } });
  const cached = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 5_000, uncached: false });
  t.after(() => cached.close());
  await cached.read(device('28.000000000007', cached.name));
  assert.deepEqual(
    server.requests.filter((r) => r.type === MSG.read).map((r) => [r.path, r.flags]),
    [1, 2, 3, 4, 5, 6].map((n) => [`/uncached/28.00000000000${n}/temperature`, FLAG.trim | P]).concat([['/28.000000000007/temperature', FLAG.trim | P]]),
  );
  const presence = server.requests.find((r) => r.path === '/28.000000000003');
  assert.equal(presence?.type, MSG.presence);
  assert.equal((presence?.flags ?? 0) & FLAG.uncached, FLAG.uncached);
});

test('source: a timeout and a refused connection are reading errors, not exceptions', T, async (t) => {
  const silent = await startFakeOwserver(() => undefined);
  t.after(() => silent.close());
  const slow = new OwserverSource({ host: '127.0.0.1', port: silent.port, timeoutMs: 200, uncached: true });
  t.after(() => slow.close());
  assert.deepEqual(await slow.read(device('28.FF2D79A21603', slow.name)), { ok: false, error: { code: 'timeout', ms: 200 } });

  const port = await freePort();
  const gone = new OwserverSource({ host: '127.0.0.1', port, timeoutMs: 1_000, uncached: true });
  t.after(() => gone.close());
  const r = await gone.read(device('28.FF2D79A21603', gone.name));
  assert.ok(!r.ok && r.error.code === 'io_error' && r.error.errno === 'ECONNREFUSED', JSON.stringify(r));
  await assert.rejects(gone.list(), /nothing listens on 127\.0\.0\.1:\d+: is owserver running/);
});

test('source: convertAll writes 1 to /simultaneous/temperature; refusals are permanent, hang-ups are not', T, async (t) => {
  let reply: Buffer | 'hangup' = answer({ ret: 0, flags: P });
  const server = await startFakeOwserver((_req, socket) => {
    if (reply === 'hangup') socket.destroy();
    else socket.write(reply);
  });
  t.after(() => server.close());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 2_000, uncached: true });
  t.after(() => source.close());
  assert.deepEqual(await source.convertAll(source.name), { ok: true });
  const req = server.requests[0];
  assert.equal(req?.type, MSG.write);
  assert.equal(req?.path, '/simultaneous/temperature');
  assert.equal(req?.data.toString(), '1');
  assert.equal(req?.size, 1);
  for (const [ret, errno] of [
    [-13, 'EACCES'],
    [-30, 'EROFS'],
  ] as const) {
    reply = answer({ ret, flags: P });
    const r = await source.convertAll(source.name);
    assert.ok(!r.ok && r.permanent && r.error.code === 'io_error' && r.error.errno === errno, JSON.stringify(r));
  }
  reply = answer({ ret: -5, flags: P });
  const busy = await source.convertAll(source.name);
  assert.ok(!busy.ok && !busy.permanent, 'EIO may pass');
  reply = 'hangup';
  const lost = await source.convertAll(source.name);
  assert.ok(!lost.ok && !lost.permanent && lost.error.code === 'io_error', JSON.stringify(lost));
});

test('source: list() keeps the devices of known kinds from DIRALL /, in f.i notation', T, async (t) => {
  const server = await startFakeOwserver((_req, socket) => {
    socket.write(answer({ ret: 0, flags: P, body: '/28.FF2D79A21603,/01.DEADBEEF0000,/10.C3A1B4020800,/29.0A0B0C0D0E0F,/26.3B9A01000000,/bus.0,/uncached\0' }));
  });
  t.after(() => server.close());
  const source = new OwserverSource({ host: '127.0.0.1', port: server.port, timeoutMs: 2_000, uncached: true });
  t.after(() => source.close());
  const devices = await source.list();
  assert.deepEqual(
    devices.map((d) => [d.name, d.id.sysfs, d.chip, d.bus]),
    [
      ['01.DEADBEEF0000', '01-0000efbeadde', 'DS2401', `owserver:127.0.0.1:${server.port}`],
      ['10.C3A1B4020800', '10-000802b4a1c3', 'DS18S20', `owserver:127.0.0.1:${server.port}`],
      ['26.3B9A01000000', '26-000000019a3b', 'DS2438', `owserver:127.0.0.1:${server.port}`],
      ['28.FF2D79A21603', '28-0316a2792dff', 'DS18B20', `owserver:127.0.0.1:${server.port}`],
    ],
  );
  assert.equal(server.requests[0]?.type, MSG.dirall);
  assert.equal((server.requests[0]?.flags ?? 0) & 0xffff0000, 0, 'Celsius and f.i names asked for explicitly');
});

test('auto-detect: an owserver with a real bus master on the probed port is found; a simulated one, a closed port and a non-owserver are not', T, async (t) => {
  let adapter = 'DS9490';
  const server = await startFakeOwserver((req, socket) => {
    if (req.type === MSG.nop) socket.write(answer({ ret: 0, flags: P }));
    else if (req.type === MSG.dirall) socket.write(answer({ ret: 0, flags: P, body: '/28.FF2D79A21603,/bus.0,/uncached,/settings\0' }));
    else if (req.path === '/bus.0/interface/settings/name') socket.write(answer({ ret: adapter.length, flags: P, body: adapter }));
    else socket.write(answer({ ret: -1, flags: P }));
  });
  t.after(() => server.close());
  const http = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.resume(); // read (and drop) the request so the hang-up is seen
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  await new Promise<void>((resolve) => http.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => http.close(() => resolve())));
  const httpPort = (http.address() as { port: number }).port;

  assert.equal(await probeOwserver('127.0.0.1', server.port), 'hardware');
  assert.deepEqual(
    server.requests.map((r) => [r.type, r.path, r.flags & FLAG.busList]),
    [
      [MSG.nop, '', 0],
      [MSG.dirall, '/', FLAG.busList],
      [MSG.read, '/bus.0/interface/settings/name', 0],
    ],
  );
  const found = await detectSources('/nonexistent-root', { host: '127.0.0.1', port: server.port });
  assert.deepEqual(found, [{ type: 'owserver', host: '127.0.0.1', port: server.port, timeout: 5000, uncached: true }]);
  adapter = 'Simulated-Random';
  assert.equal(await probeOwserver('127.0.0.1', server.port), 'simulated');
  assert.deepEqual(await detectSources('/nonexistent-root', { host: '127.0.0.1', port: server.port }), []);
  assert.equal(await probeOwserver('127.0.0.1', httpPort), 'absent');
  assert.equal(await probeOwserver('127.0.0.1', await freePort()), 'absent');
});
