import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scalar } from 'yaml';
import { formatProblem, loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { listenAddress } from '../../src/config/loopback.js';
import { MAX_CONFIG_BYTES } from '../../src/config/unique-keys.js';
import { renderMosquittoConf } from '../../src/broker/mosquitto-conf.js';
import { defaultConfig } from '../../src/config/schema.js';
import { MAX_ATTRIBUTE_BYTES, readAttribute, AttributeReader } from '../../src/sources/read-attribute.js';
import { readSmallFile, writableByOthers } from '../../src/system/small-file.js';
import { Ring } from '../../src/web/ring.js';

/** Input that is not what it claims: files of the wrong kind or size, hosts with spaces, huge maps. */

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'w1mqtt-bounded-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('sensors.yaml larger than the cap is refused with its size; a FIFO is refused without blocking', async (t) => {
  const dir = await tempDir(t);
  const big = join(dir, 'big.yaml');
  await writeFile(big, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\ninterval: 5s\n`);
  const r = await loadConfigFile(big);
  assert.ok(!r.ok);
  assert.match(formatProblem(r.problems[0]!), /big\.yaml:1:1: cannot read: the file is 256 KiB \(262160 bytes\), more than the 256 KiB it may be/);
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const f = await loadConfigFile(fifo);
  assert.ok(!f.ok);
  assert.match(f.problems[0]!.message, /not a regular file \(a FIFO\)/);
  const zero = join(dir, 'zero.yaml');
  await symlink('/dev/zero', zero);
  const z = await loadConfigFile(zero);
  assert.ok(!z.ok);
  assert.match(z.problems[0]!.message, /a character device/);
});

/**
 * How often `fn` looks at a YAML scalar's value: the work of comparing keys, counted rather
 * than timed. For the length of the (synchronous) call the yaml library's Scalar keeps its
 * value behind a counting accessor; nothing else changes.
 */
function scalarReads<T>(fn: () => T): { result: T; reads: number } {
  const values = new WeakMap<object, unknown>();
  let reads = 0;
  Object.defineProperty(Scalar.prototype, 'value', {
    configurable: true,
    get(this: object) {
      reads++;
      return values.get(this);
    },
    set(this: object, value: unknown) {
      values.set(this, value);
    },
  });
  try {
    return { result: fn(), reads };
  } finally {
    delete (Scalar.prototype as { value?: unknown }).value;
  }
}

test('duplicate keys are found in linear time: twice the sensors, twice the work', () => {
  const sensors = (n: number): string => {
    let text = 'sensors:\n';
    for (let i = 0; i < n; i++) text += `  28-${i.toString(16).padStart(12, '0')}: { topic: home/room${i}/temperature, name: Room ${i} }\n`;
    return text;
  };
  const text = sensors(3000);
  const dup = parseConfigText(`${text}  28-000000000005: home/again\n`, 'f.yaml');
  assert.ok(!dup.ok);
  assert.deepEqual(dup.problems.map((p) => [p.line, p.message]), [[3002, 'Map keys must be unique']]);
  const counted = scalarReads(() => parseConfigText(text, 'f.yaml'));
  assert.deepEqual(counted.result, parseConfigText(text, 'f.yaml'), 'counting changes nothing');
  assert.ok(counted.result.ok);
  // The yaml library's own uniqueKeys check compares each key with every earlier one: 4.5
  // million reads for these 3 000 sensors (~1.2 s per parse on a 2-core x86), 4 times as many for twice the sensors.
  const half = scalarReads(() => parseConfigText(sensors(1500), 'f.yaml')).reads;
  assert.ok(counted.reads <= 2.5 * half, `${half} reads for 1 500 sensors, ${counted.reads} for 3 000`);
  assert.ok(counted.reads <= 20 * 3000, `${counted.reads} reads for 3 000 sensors`);
});

test('check and run agree on hosts: a space is refused, *.localhost binds loopback whatever it resolves to', () => {
  const r = parseConfigText("web: { host: '127.0.0.1 ' }\nbroker: { host: ' localhost' }\n", 'f.yaml');
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path).sort(), ['broker.host', 'web.host']);
  assert.match(r.problems[0]!.message, /cannot contain spaces/);
  assert.equal(listenAddress('pi.localhost'), '127.0.0.1');
  assert.equal(listenAddress('LOCALHOST'), '127.0.0.1');
  assert.equal(listenAddress('192.168.1.5'), '192.168.1.5');
  const ok = parseConfigText('web: { host: kitchen.localhost }\nbroker: { host: mqtt.localhost }\n', 'f.yaml');
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  assert.match(renderMosquittoConf(ok.config.broker, { dir: '/s', user: 'w1' }), /^listener 1883 127\.0\.0\.1$/m);
});

test('a password file is read only as a regular file of sensible size; group- and world-writable ones are told apart', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'pass');
  await writeFile(file, 'secret\n');
  await chmod(file, 0o660);
  const read = await readSmallFile(file, 1024);
  assert.equal(read.text, 'secret\n');
  assert.equal(writableByOthers(read.stats), 'group');
  await chmod(file, 0o602);
  assert.equal(writableByOthers((await readSmallFile(file, 1024)).stats), 'world');
  await chmod(file, 0o640);
  assert.equal(writableByOthers((await readSmallFile(file, 1024)).stats), undefined);
  await assert.rejects(readSmallFile(file, 3), /the file is 7 bytes, more than the 3 bytes it may be/);
  await assert.rejects(readSmallFile('/dev/zero', 1024), /character device/);
});

test('an attribute that never ends is cut off at a page with EFBIG, both ways of reading', async (t) => {
  const dir = await tempDir(t);
  const long = join(dir, 'w1_slave');
  await writeFile(long, 'y'.repeat(20 * MAX_ATTRIBUTE_BYTES));
  await assert.rejects(readAttribute(long), (err: NodeJS.ErrnoException) => err.code === 'EFBIG' && /w1_slave goes on past 4096 bytes/.test(err.message));
  await assert.rejects(readAttribute('/dev/zero', true), { code: 'EFBIG' });
  const reader = new AttributeReader();
  reader.keepOpen = true;
  await assert.rejects(reader.read(long), { code: 'EFBIG' });
  await assert.rejects(reader.read(long), { code: 'EFBIG' });
  reader.closeAll();
  assert.equal(defaultConfig().web.host, '127.0.0.1');
});

test('a ring allocates as points come, not its whole capacity up front, and keeps order as it grows', () => {
  const ring = new Ring(86_401);
  assert.equal(ring.capacity, 86_401);
  for (let i = 0; i < 1000; i++) ring.push(i, i / 10);
  assert.equal(ring.size, 1000);
  assert.deepEqual(ring.at(0), { t: 0, v: 0 });
  assert.deepEqual(ring.at(999), { t: 999, v: 99.9 });
  const small = new Ring(100);
  for (let i = 0; i < 250; i++) small.push(i, i);
  assert.equal(small.size, 100);
  assert.deepEqual(small.columns().t, Array.from({ length: 100 }, (_, i) => 150 + i));
});
