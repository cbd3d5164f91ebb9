import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { InFlightRead } from '../../src/sampling/in-flight.js';
import { InFlightReads } from '../../src/sampling/in-flight.js';
import { formatNotify, SdNotify, watchdogIntervalMs, type NotifyTransport } from '../../src/system/sd-notify.js';
import { ServiceNotifier, type ServiceAgent } from '../../src/system/service.js';
import { statusLine } from '../../src/system/status-line.js';
import { FakeClock, flush } from '../helpers/fake-clock.js';

const quiet = pino({ level: 'silent' });

test('messages are KEY=VALUE lines; a value cannot smuggle in another line', () => {
  assert.equal(formatNotify({ READY: 1, STATUS: '3 sensors' }), 'READY=1\nSTATUS=3 sensors');
  assert.equal(formatNotify({ STATUS: 'a\nWATCHDOG=1' }), 'STATUS=a WATCHDOG=1');
});

test('the watchdog interval is half of WATCHDOG_USEC, only when WATCHDOG_PID is unset or ours', () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '41' }, 42), undefined);
  assert.equal(watchdogIntervalMs({}, 42), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 42), undefined);
});

test('status lines people read in systemctl status', () => {
  assert.equal(statusLine({ sensors: 12, failing: 0, lastCycleMs: 912, connected: true }), '12 sensors, last cycle 0.9 s, broker connected');
  assert.equal(statusLine({ sensors: 1, failing: 1, lastCycleMs: undefined, connected: false }), '1 sensor (1 failing), broker unreachable, readings queued');
  assert.equal(
    statusLine({ sensors: 2, failing: 0, lastCycleMs: 1500, connected: true, stuck: { sensor: '28-0316a2792dff', bus: '/sys/devices/w1_bus_master1', forMs: 42_400 }, configError: 'sensors.yaml:3:11 interval: not a duration' }),
    '2 sensors, last cycle 1.5 s, broker connected; read of 28-0316a2792dff on w1_bus_master1 stuck for 42 s; sensors.yaml not applied: sensors.yaml:3:11 interval: not a duration',
  );
});

test('in-flight reads: the oldest unsettled read, kept past any timeout until it settles', async () => {
  const reads = new InFlightReads();
  let finish!: () => void;
  const slow = new Promise<void>((resolve) => (finish = resolve));
  reads.track(slow, { bus: 'b1', sensor: 's1', since: 100 });
  await reads.track(Promise.resolve(), { bus: 'b2', sensor: 's2', since: 50 });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(reads.oldest(), { bus: 'b1', sensor: 's1', since: 100 });
  finish();
  await slow;
  await new Promise((r) => setImmediate(r));
  assert.equal(reads.oldest(), undefined);
});

/** A transport that keeps what it was asked to send (the socket itself is tested in integration). */
function recorder(): { transport: NotifyTransport; sent: string[] } {
  const sent: string[] = [];
  return { sent, transport: { kind: 'unix-dgram', send: async (m) => void sent.push(m), close: () => undefined } };
}

function agent(over: Partial<{ connected: boolean; oldest: InFlightRead | undefined }> = {}): ServiceAgent & { connected: boolean; oldest: InFlightRead | undefined } {
  return {
    connected: over.connected ?? true,
    oldest: over.oldest,
    sensors: () => [{ displayId: 'a' }, { displayId: 'b' }],
    faults: { health: (id: string) => (id === 'b' ? { fault: {} } : {}) },
    busStats: () => [{ lastCycleMs: 800 }, { lastCycleMs: 1200 }],
    oldestRead() {
      return this.oldest;
    },
  };
}

test('READY only once connected; WATCHDOG withheld while a read is stuck; STOPPING ends the pings', async (t) => {
  const { transport, sent } = recorder();
  const a = agent({ connected: false });
  const clock = new FakeClock();
  clock.t = 1_000_000;
  const service = new ServiceNotifier({ notify: new SdNotify(transport, quiet), agent: a, log: quiet, env: { WATCHDOG_USEC: '40000' }, clock, readyPollMs: 5 });
  t.after(() => service.stopping());
  const pings = (): number => sent.filter((m) => m === 'WATCHDOG=1').length;
  service.start();
  await flush();
  assert.ok(sent.includes('STATUS=starting: waiting for the MQTT broker'));
  await clock.advance(40); // two watchdog intervals (WATCHDOG_USEC / 2 = 20 ms), eight readiness checks
  assert.equal(pings(), 2);
  assert.ok(!sent.some((m) => m.startsWith('READY=1')));
  a.connected = true;
  await clock.advance(5);
  assert.ok(sent.includes('READY=1\nSTATUS=2 sensors (1 failing), last cycle 1.2 s, broker connected'), sent.join(' | '));

  a.oldest = { bus: 'b1', sensor: 'a', since: clock.now() - 25 }; // longer than the 20 ms limit (WATCHDOG_USEC / 2)
  await clock.advance(20);
  assert.ok(sent.some((m) => /stuck for/.test(m)), sent.join(' | '));
  const stuckAt = pings();
  await clock.advance(80); // four intervals
  assert.equal(pings(), stuckAt);
  a.oldest = undefined;
  await clock.advance(20);
  assert.equal(pings(), stuckAt + 1);

  await service.reloading();
  await service.reloaded('sensors.yaml:1:1: bad');
  assert.match(sent.at(-2) ?? '', /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading sensors.yaml$/);
  assert.match(sent.at(-1) ?? '', /^READY=1\nSTATUS=.*; sensors\.yaml not applied: sensors\.yaml:1:1: bad$/);
  await service.stopping();
  const stopAt = sent.indexOf('STOPPING=1\nSTATUS=stopping');
  assert.ok(stopAt >= 0);
  await clock.advance(60_000); // every watchdog interval, and the STATUS refresh's too
  assert.equal(sent.length, stopAt + 1, 'nothing after STOPPING=1');
});

test('a failing notify socket is logged when it starts failing and when it works again, not per message', async () => {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  let fail = true;
  const notify = new SdNotify({ kind: 'unix-dgram', send: async () => { if (fail) throw new Error('ECONNREFUSED'); }, close: () => undefined }, log);
  for (let i = 0; i < 5; i++) await notify.send({ WATCHDOG: 1 });
  fail = false;
  await notify.send({ WATCHDOG: 1 });
  assert.deepEqual(lines.map((l) => l.msg), ['cannot notify systemd', 'systemd notify socket works again']);
});
