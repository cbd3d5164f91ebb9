import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { fixtureWorkspace, startCli } from '../helpers/agent-process.js';
import { haveMosquitto } from '../helpers/mosquitto.js';
import { subscribe } from '../helpers/mqtt-sub.js';
import { freePort } from '../helpers/ports.js';

/**
 * A live reload that moves a sensor to a new topic: its `<topic>/availability` follows it
 * (retained, `online`), the old one is cleared, a sensor taken out leaves no `offline`
 * behind, and `unavailable_after` applies live. Checked as a user (or Home Assistant)
 * sees it: a fresh mosquitto_sub after the reload, on the agent's bundled mosquitto.
 */

const skip = !haveMosquitto() && 'mosquitto / mosquitto-clients not installed';
const T = { timeout: 120_000, skip };
const LIVING = '28-0316a2792dff';
const GARAGE = '22-00000053e8a1';

async function setup(t: { after(fn: () => Promise<unknown>): void }, sensors: string[], extra: string[] = []) {
  const ws = await fixtureWorkspace();
  t.after(() => ws.cleanup());
  const port = await freePort();
  const text = (s: string[], more: string[]) => [`broker: { port: ${port} }`, `sources: [{ type: w1, path: ${ws.w1} }]`, 'interval: 1s', 'unmapped: ignore', ...more, 'sensors:', ...s.map((l) => `  ${l}`)].join('\n') + '\n';
  const file = await ws.writeConfig(text(sensors, extra));
  const agent = startCli(['run', '--config', file]);
  t.after(() => agent.stop('SIGKILL'));
  await agent.waitForLog((l) => String(l['msg']).startsWith('watching '), 30_000);
  let reloads = 0;
  return {
    agent,
    port,
    /** Write sensors.yaml and wait for the reload to be applied. */
    async reload(s: string[], more: string[] = extra): Promise<void> {
      const target = ++reloads;
      let seen = 0;
      await writeFile(file, text(s, more));
      await agent.waitForLog((l) => String(l['msg']).startsWith('config reloaded') && ++seen >= target, 20_000);
    },
    /**
     * What a subscriber gets retained on `topics`, once `marker` has been published (it goes
     * through the outbox, which gathers messages for a few ms). mosquitto sends the retained
     * messages of a SUBSCRIBE's filters in their order, so once the last filter's (`marker`)
     * has come, any earlier one would have come before it.
     */
    async retained(topics: string[], marker: string): Promise<Map<string, string>> {
      const first = await subscribe({ port, topics: [marker] });
      t.after(() => first.stop());
      await first.waitFor((m) => m.payload !== '', 15_000);
      await first.stop();
      const sub = await subscribe({ port, topics: [...topics, marker] });
      t.after(() => sub.stop());
      await sub.waitFor((m) => m.retained && m.topic === marker, 10_000);
      await sub.stop();
      return new Map(sub.retainedLines.filter((m) => m.retained).map((m) => [m.topic, m.payload]));
    },
  };
}

/** `online` on `topic`, retained from before or live. */
const onlineAt = (port: number, topic: string) =>
  subscribe({ port, topics: [topic] }).then(async (sub) => {
    try {
      return await sub.waitFor((m) => m.payload === 'online', 15_000);
    } finally {
      await sub.stop();
    }
  });

test('a remapped sensor says online on its new availability topic; the old one and a removed sensor leave nothing retained', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/living/temperature`, `${GARAGE}: home/garage/temperature`]);
  await onlineAt(s.port, 'home/living/temperature/availability');
  await onlineAt(s.port, 'home/garage/temperature/availability');

  // The living room's sensor moves to the kitchen; the garage is taken out of sensors.yaml.
  await s.reload([`${LIVING}: home/kitchen/temperature`]);
  const after = await s.retained(['home/living/temperature', 'home/living/temperature/availability', 'home/garage/temperature', 'home/garage/temperature/availability', 'home/kitchen/temperature'], 'home/kitchen/temperature/availability');
  assert.equal(after.get('home/kitchen/temperature/availability'), 'online', 'the moved sensor was online already: it says so on its new topic');
  for (const gone of ['home/living/temperature', 'home/living/temperature/availability', 'home/garage/temperature', 'home/garage/temperature/availability']) {
    assert.equal(after.get(gone), undefined, `${gone} still retained: ${[...after].join(' ')}`);
  }
  assert.equal(await s.agent.stop(), 0);
});

test('two sensors swapping topics each say their own state; with retain: false the old availability topic is still cleared', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/a`, `${GARAGE}: home/b`], ['mqtt: { retain: false }']);
  await onlineAt(s.port, 'home/a/availability');
  await onlineAt(s.port, 'home/b/availability');
  await s.reload([`${LIVING}: home/b`, `${GARAGE}: home/a`]);
  const swapped = await s.retained(['home/a/availability'], 'home/b/availability');
  assert.deepEqual([swapped.get('home/a/availability'), swapped.get('home/b/availability')], ['online', 'online']);

  // Availability is always retained, so a move clears the old one even when readings are not.
  await s.reload([`${LIVING}: home/c`, `${GARAGE}: home/a`]);
  const moved = await s.retained(['home/b/availability'], 'home/c/availability');
  assert.equal(moved.get('home/b/availability'), undefined);
  assert.equal(moved.get('home/c/availability'), 'online');
  assert.equal(await s.agent.stop(), 0);
});

test('unavailable_after: 0 by a live reload clears the availability topics; turned on again, each sensor says online', T, async (t) => {
  const s = await setup(t, [`${LIVING}: home/living/temperature`]);
  await onlineAt(s.port, 'home/living/temperature/availability');
  await s.reload([`${LIVING}: home/living/temperature`], ['unavailable_after: 0']);
  const off = await s.retained(['home/living/temperature/availability'], 'home/living/temperature');
  assert.equal(off.get('home/living/temperature/availability'), undefined);
  await s.reload([`${LIVING}: home/living/temperature`], ['unavailable_after: 2']);
  await onlineAt(s.port, 'home/living/temperature/availability');
  assert.equal(await s.agent.stop(), 0);
});
