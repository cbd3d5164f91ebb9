import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseDeviceId } from '../../src/onewire/ids.js';
import { FIXTURES, fixtureWorkspace, runCli } from '../helpers/agent-process.js';

/**
 * The real CLI as a child process, no broker: exit codes, usage, `check`, `scan`
 * and the config refusal of `run`, against the fixture trees and configs.
 */

const T = { timeout: 30000 };
const CONFIG = join(FIXTURES, 'config');
const VALID = join(CONFIG, 'valid.yaml');
const BROKEN_SCHEMA = join(CONFIG, 'broken-schema.yaml');
const BROKEN_SYNTAX = join(CONFIG, 'broken-syntax.yaml');

/** fixtures/w1/README.md: every thermometer on the fixture buses (sysfs id → chip). */
const THERMOMETERS: Readonly<Record<string, string>> = {
  '28-0316a2792dff': 'DS18B20',
  '28-0316a27a1c44': 'DS18B20',
  '28-3c01d607e1a2': 'DS18B20',
  '28-3c01d6075b3e': 'DS18B20',
  '28-0000054c2ba1': 'DS18B20',
  '10-000802b4a1c3': 'DS18S20',
  '28-01192e4f6a10': 'DS18B20',
  '28-01192e4f8b27': 'DS18B20',
  '28-0000072d91f5': 'DS18B20',
  '28-0000072d3e08': 'DS18B20',
  '28-0316a27b9d52': 'DS18B20',
  '22-00000053e8a1': 'DS1822',
  '3b-0000001852ad': 'DS1825/MAX31850',
  '42-00000014a7e2': 'DS28EA00',
};
/** The other kinds on the fixture buses (devices/kinds.ts). */
const OTHERS: Readonly<Record<string, string>> = {
  '26-000000019a3b': 'DS2438',
  '01-0000efbeadde': 'DS2401',
};

/** The faulty fixture sensors and what `scan` must say about each. */
const FAULTS: readonly (readonly [string, RegExp])[] = [
  ['28-01192e4f6a10', /power-on|85/i],
  ['28-01192e4f8b27', /127\.9|power/i],
  ['28-0000072d91f5', /all-zero/i],
  ['28-0000072d3e08', /crc/i],
  ['28-0316a27b9d52', /empty/i],
];

/** A workspace (fixture copies) with a sensors.yaml listing both fixture sources. */
async function scanWorkspace(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; config: string }> {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const config = await ws.writeConfig(
    ['sources:', `  - type: w1`, `    path: ${JSON.stringify(ws.w1)}`, `  - type: owfs`, `    path: ${JSON.stringify(ws.owfs)}`, ''].join('\n'),
  );
  return { dir: ws.dir, config };
}

function usageShown(text: string): void {
  assert.match(text, /Usage:/);
  assert.match(text, /w1mqtt run/);
  assert.match(text, /w1mqtt check/);
}

test('--version prints the package version and exits 0', T, async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'w1mqtt 0.1.0');
});

test('--help prints the usage and exits 0', T, async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  usageShown(r.stdout);
  assert.match(r.stdout, /w1mqtt scan/);
  assert.match(r.stdout, /w1mqtt demo/);
});

test('an unknown command exits 2 with the usage on stderr', T, async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /frobnicate/);
  usageShown(r.stderr);
  assert.equal(r.stdout, '');
});

test('an unknown flag exits 2 with the usage on stderr', T, async () => {
  const r = await runCli(['check', '--frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /frobnicate/);
  usageShown(r.stderr);
  assert.equal(r.stdout, '');
});

test('check on a valid config exits 0 and says OK', T, async () => {
  const r = await runCli(['check', '-c', VALID]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\bOK\b/);
  assert.ok(r.stdout.includes(VALID), r.stdout);
});

test('check on broken-schema.yaml exits 1 and locates every problem as file:line:col path: message', T, async () => {
  const r = await runCli(['check', '-c', BROKEN_SCHEMA]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  // Positions from fixtures/config/README.md.
  const expected: readonly (readonly [string, RegExp])[] = [
    ['4:8 mqtt.qos', /0, 1 or 2/],
    ['5:11 interval', /duration/i],
    ['9:5 sensors.28-0316a2792dff.intervall', /unknown key|unrecognized/i],
    ['10:3 sensors.29-xyz', /1-Wire id/i],
  ];
  const problems = r.stdout.split('\n').filter((l) => l.startsWith(`${BROKEN_SCHEMA}:`));
  assert.equal(problems.length, expected.length, r.stdout);
  for (const [where, message] of expected) {
    const line = problems.find((l) => l.startsWith(`${BROKEN_SCHEMA}:${where}: `));
    assert.ok(line, `no problem at ${where} in:\n${r.stdout}`);
    assert.match(line.slice(`${BROKEN_SCHEMA}:${where}: `.length), message);
  }
});

test('check on broken-syntax.yaml exits 1 and locates the syntax error', T, async () => {
  const r = await runCli(['check', '-c', BROKEN_SYNTAX]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`${escape(BROKEN_SYNTAX)}:8:11\\b`));
});

test('check on a file that does not exist exits 1 and names it', T, async () => {
  const r = await runCli(['check', '-c', '/nonexistent.yaml']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /\/nonexistent\.yaml/);
});

test('check honours $W1MQTT_CONFIG', T, async () => {
  const ok = await runCli(['check'], { env: { W1MQTT_CONFIG: VALID } });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.ok(ok.stdout.includes(VALID), ok.stdout);
  assert.match(ok.stdout, /\bOK\b/);
  const bad = await runCli(['check'], { env: { W1MQTT_CONFIG: BROKEN_SCHEMA } });
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.ok(bad.stdout.includes(`${BROKEN_SCHEMA}:4:8 mqtt.qos`), bad.stdout);
});

test('run with broken-schema.yaml exits 1 without starting, the located problems on stderr', T, async () => {
  const r = await runCli(['run', '-c', BROKEN_SCHEMA]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  for (const where of ['4:8 mqtt.qos', '5:11 interval', '9:5 sensors.28-0316a2792dff.intervall', '10:3 sensors.29-xyz']) {
    assert.ok(r.stderr.includes(`${BROKEN_SCHEMA}:${where}: `), `no ${where} on stderr:\n${r.stderr}`);
  }
  assert.doesNotMatch(r.stdout, /running|bundled broker listening|sensor found/);
});

test('scan lists every device in both notations with its chip and a reading or fault of each measurement', T, async (t) => {
  const { config } = await scanWorkspace(t);
  const r = await runCli(['scan', '-c', config]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n');
  const lineOf = (sysfs: string): string => {
    const id = parseDeviceId(sysfs);
    assert.ok(id);
    const line = lines.find((l) => l.includes(id.sysfs) && l.includes(id.owfs));
    assert.ok(line, `no line with both ${id.sysfs} and ${id.owfs}:\n${r.stdout}`);
    return line;
  };
  const kitchen = lineOf('28-0316a2792dff');
  assert.ok(kitchen.includes('28.FF2D79A21603'));
  assert.match(kitchen, /DS18B20/);
  assert.match(kitchen, /23\.125 °C/);
  for (const [sysfs, chip] of Object.entries(THERMOMETERS)) assert.ok(lineOf(sysfs).includes(chip), `${sysfs} should show ${chip}`);
  for (const [sysfs, reason] of FAULTS) {
    const line = lineOf(sysfs);
    assert.match(line, reason, `${sysfs}: ${line}`);
    assert.doesNotMatch(line, /\d °C\s*$/, `${sysfs} must not show a temperature: ${line}`);
  }
  // The DS2438 on the kernel bus and through OWFS (the same chip): its four measurements; the DS2401 is there.
  const ds2438 = lines.filter((l) => l.includes('26-000000019a3b') && l.includes('26.3B9A01000000'));
  assert.equal(ds2438.length, 2, r.stdout);
  for (const line of ds2438) assert.match(line, /DS2438 .*21\.844 °C, humidity 49\.8 %, voltage 2\.35 V, vdd 4\.98 V$/);
  assert.match(lineOf('01-0000efbeadde'), /DS2401 .* present$/);
  assert.match(r.stdout, /\n22 devices: 18 thermometers, 2 DS2401, 2 DS2438\n$/);
});

test('scan --yaml prints a sensors.yaml with every device and its measurements, and it passes check', T, async (t) => {
  const { dir, config } = await scanWorkspace(t);
  const r = await runCli(['scan', '-c', config, '--yaml']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = parse(r.stdout) as { sensors?: Record<string, unknown> };
  assert.ok(doc.sensors && typeof doc.sensors === 'object', r.stdout);
  const keys = Object.keys(doc.sensors);
  const chips = keys.map((k) => {
    const id = parseDeviceId(k);
    assert.ok(id, `${k} is not a 1-Wire id`);
    return id.sysfs;
  });
  assert.deepEqual([...new Set(chips)].sort(), [...Object.keys(THERMOMETERS), ...Object.keys(OTHERS)].sort());
  assert.deepEqual(doc.sensors['26-000000019a3b'], {
    topic: 'home/26-000000019a3b/temperature',
    name: 'DS2438 26-000000019a3b',
    humidity: 'home/26-000000019a3b/humidity',
    voltage: 'home/26-000000019a3b/voltage',
    vdd: 'home/26-000000019a3b/vdd',
  });
  assert.deepEqual(doc.sensors['01-0000efbeadde'], { topic: 'home/01-0000efbeadde/presence', name: 'DS2401 01-0000efbeadde' });
  // One entry per chip: the same chip in both notations is a config error.
  assert.equal(keys.length, chips.length);
  assert.equal(new Set(chips).size, keys.length, `the same chip is listed twice (once per notation): ${keys.join(', ')}`);

  const file = join(dir, 'scanned.yaml');
  await writeFile(file, r.stdout);
  const checked = await runCli(['check', '-c', file]);
  assert.equal(checked.code, 0, `the scan --yaml output does not pass check:\n${checked.stdout}${checked.stderr}`);
  assert.match(checked.stdout, /\bOK\b/);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
