import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCli } from '../helpers/agent-process.js';
import { freePort } from '../helpers/ports.js';

test('w1mqtt demo --realistic publishes the bus simulator\'s sensors, without falling back from bulk conversion', { timeout: 120_000 }, async (t) => {
  const demo = startCli(['demo', '--realistic', '--port', String(await freePort()), '--interval', '2s']);
  t.after(() => demo.stop());
  const start = await demo.waitForLog((l) => l['realistic'] === true, 60_000);
  assert.match(String(start['w1']), /sim\/devices$/);
  // Two full cycles of the 12-bit bus (ten sensors) and the DS28EA00 on the other bus.
  for (const sensor of ['28-00000001000a', '42-000000020001']) {
    let seen = 0;
    await demo.waitForLog((l) => l['msg'] === 'reading' && l['sensor'] === sensor && ++seen === 2, 60_000);
  }
  assert.ok(!demo.logs.some((l) => String(l['msg']).startsWith('bulk conversion')), 'no bulk fallback as root or owner');
  assert.equal(await demo.stop(), 0);
});
