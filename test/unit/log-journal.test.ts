import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fstatSync, openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalLine, journalPriority, stdoutIsJournal } from '../../src/log-journal.js';
import { createLogger, logFormat } from '../../src/log.js';

/** A logger in the journal format writing into an array. */
function journalLogger(level = 'debug') {
  const lines: string[] = [];
  const log = createLogger({ level, format: 'journal', destination: { write: (s: string) => void lines.push(s) } });
  return { log, lines };
}

test('journal: each level gets its sd-daemon prefix (<2> fatal, <3> error, <4> warning, <6> info, <7> debug and trace)', () => {
  const { log, lines } = journalLogger('trace');
  log.trace('t');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  log.fatal('f');
  assert.deepEqual(lines, ['<7>t\n', '<7>d\n', '<6>i\n', '<4>w\n', '<3>e\n', '<2>f\n']);
  assert.deepEqual([10, 20, 30, 40, 50, 60].map(journalPriority), [7, 7, 6, 4, 3, 2]);
});

test('journal: module first, then the message, then the fields; no time, level or pid (journald records those)', () => {
  const { log, lines } = journalLogger();
  log.child({ module: 'sensors' }).child({ sensor: '28-0000072d3e08' }).warn({ code: 'crc_mismatch', intervalMs: 1000, ok: false, none: null, error: { code: 'crc_mismatch', crc: 'c9' } }, 'sensor fault: CRC mismatch (crc=c9)');
  assert.equal(lines[0], '<4>sensors: sensor fault: CRC mismatch (crc=c9) sensor=28-0000072d3e08 code=crc_mismatch intervalMs=1000 ok=false none=null error={"code":"crc_mismatch","crc":"c9"}\n');
});

test('journal: values with spaces, quotes or = are quoted; an Error shows its message; a newline never splits a record', () => {
  const { log, lines } = journalLogger();
  log.info({ watch: "mosquitto_sub -t 'home/#' -v", eq: 'a=b', empty: '' }, 'demo');
  log.error({ err: new Error('connect ECONNREFUSED 127.0.0.1:1883') }, 'broker gone');
  log.info('two\nlines');
  assert.equal(lines[0], `<6>demo watch="mosquitto_sub -t 'home/#' -v" eq="a=b" empty=""\n`);
  assert.equal(lines[1], '<3>broker gone err="connect ECONNREFUSED 127.0.0.1:1883"\n');
  assert.equal(lines[2], '<6>two\\nlines\n');
  assert.ok(lines.every((l) => l.indexOf('\n') === l.length - 1));
});

test('journal: a line that is not JSON passes as info', () => {
  assert.equal(journalLine('plain text\n'), '<6>plain text\n');
});

test('journal: JOURNAL_STREAM counts only when it names the stream fd 1 is (a child that inherited it writes elsewhere)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'w1mqtt-journal-'));
  const fd = openSync(join(dir, 'out'), 'w');
  t.after(() => (closeSync(fd), rmSync(dir, { recursive: true, force: true })));
  const st = fstatSync(fd, { bigint: true });
  assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd), true);
  assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }, fd), false);
  assert.equal(stdoutIsJournal({}, fd), false);
  assert.equal(stdoutIsJournal({ JOURNAL_STREAM: '' }, fd), false);
});

test('log format: W1MQTT_LOG_FORMAT wins; otherwise JSON when stdout is neither a terminal nor the journal', () => {
  assert.equal(logFormat({ W1MQTT_LOG_FORMAT: 'json', JOURNAL_STREAM: '1:1' }), 'json');
  assert.equal(logFormat({ W1MQTT_LOG_FORMAT: 'journal' }), 'journal');
  assert.equal(logFormat({ W1MQTT_LOG_FORMAT: 'pretty' }), 'pretty');
  if (process.stdout.isTTY !== true) assert.equal(logFormat({ JOURNAL_STREAM: '1:1' }), 'json');
});
