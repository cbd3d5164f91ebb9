/// <reference lib="dom" />
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parseConfigText } from '../../src/config/load.js';
import { ROOT, startCli } from '../helpers/agent-process.js';
import { haveChromium, launchChromium } from '../helpers/browser.js';
import { eventually, getJson } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { FAULTY, GOOD_VALUES, setFixtureTemperature, startWebAgent } from '../helpers/web-agent.js';

/**
 * The page in a real browser: Debian's chromium, headless, driven by playwright-core,
 * against the real agent on a fixture bus. Every request the page makes is watched:
 * anything not for the agent's own origin is aborted and fails the test.
 */

const noChromium = !haveChromium() && 'chromium not installed (apt-get install chromium)';
const T = { timeout: 150_000, skip: noChromium };
/** Set UPDATE_SCREENSHOTS=1 to refresh the README's pictures in docs/. */
const SHOTS = process.env['UPDATE_SCREENSHOTS'] === '1' ? join(ROOT, 'docs') : undefined;

interface Watched {
  readonly page: Page;
  readonly errors: string[];
  readonly foreign: string[];
  readonly requests: string[];
}

async function openPage(t: TestContext, browser: Browser, origin: string, options: { width?: number; height?: number; dark?: boolean } = {}): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 }, colorScheme: options.dark ? 'dark' : 'light' });
  t.after(() => context.close());
  const errors: string[] = [];
  const foreign: string[] = [];
  const requests: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${origin}/`);
  return { page, errors, foreign, requests };
}

/** Text of one element inside a sensor's card ('' when absent). */
function cardText(page: Page, id: string, selector: string): Promise<string> {
  return page.evaluate(([i, s]) => document.querySelector(`article[data-sensor="${i}"] ${s}`)?.textContent ?? '', [id, selector] as const);
}

/** How many pixels of the chart's line colour a sensor's canvas has: 0 for a blank chart. */
function linePixels(page: Page, id: string): Promise<number> {
  return page.evaluate((i) => {
    const canvas = document.querySelector<HTMLCanvasElement>(`article[data-sensor="${i}"] canvas`);
    if (!canvas) return 0;
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    if (!probe) return 0;
    probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--chart-line').trim();
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    // Read a copy, not the page's own canvas: repeated readbacks of it make Chromium warn (a
    // warning this test caused, not the page), and the page's canvas is not meant for them.
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const ctx = copy.getContext('2d', { willReadFrequently: true });
    ctx?.drawImage(canvas, 0, 0);
    const { data } = ctx?.getImageData(0, 0, copy.width, copy.height) ?? { data: new Uint8ClampedArray() };
    let n = 0;
    for (let p = 0; p < data.length; p += 4) {
      if (Math.abs((data[p] ?? 0) - (r ?? 0)) < 40 && Math.abs((data[p + 1] ?? 0) - (g ?? 0)) < 40 && Math.abs((data[p + 2] ?? 0) - (b ?? 0)) < 40 && (data[p + 3] ?? 0) > 200) n++;
    }
    return n;
  }, id);
}

test('the page: every fixture sensor with its value, faults, charts, live updates, phone and dark mode; nothing leaves 127.0.0.1', T, async (t) => {
  const { webPort, w1, agent } = await startWebAgent(t);
  const origin = `http://127.0.0.1:${webPort}`;
  const browser = await launchChromium();
  t.after(() => browser.close());
  const { page, errors, foreign, requests } = await openPage(t, browser, origin);
  await page.evaluate(() => ((window as unknown as { loadedOnce: number }).loadedOnce = 1));

  const total = Object.keys(GOOD_VALUES).length + Object.keys(FAULTY).length;
  await page.waitForFunction((n) => document.querySelectorAll('article.card').length === n, total, { timeout: 30_000 });
  await page.waitForFunction(
    (good) => Object.entries(good).every(([id, text]) => document.querySelector(`article[data-sensor="${id}"] .value`)?.textContent === text),
    GOOD_VALUES,
    { timeout: 30_000 },
  );
  for (const [id, text] of Object.entries(GOOD_VALUES)) {
    assert.equal(await cardText(page, id, '.value'), text, id);
    assert.equal(await page.getAttribute(`article[data-sensor="${id}"]`, 'data-state'), 'ok', id);
  }
  await page.waitForFunction((ids) => ids.every((id) => document.querySelector(`article[data-sensor="${id}"]`)?.getAttribute('data-state') === 'fault'), Object.keys(FAULTY), { timeout: 30_000 });
  assert.match(await cardText(page, '28-01192e4f6a10', '.fault .summary'), /^power-on 85 °C, \d+ times?$/);
  assert.match(await cardText(page, '28-01192e4f8b27', '.fault .summary'), /^127\.94 °C: not enough power, \d+ times?$/);
  assert.match(await cardText(page, '28-0000072d3e08', '.fault .summary'), /^CRC mismatch, \d+ times?$/);
  assert.match(await cardText(page, '28-0316a27b9d52', '.fault'), /empty read.*kernel/);

  // Name, topic, both id notations and the chip on a card.
  assert.equal(await cardText(page, '28-0316a27a1c44', 'h2'), 'Kitchen');
  assert.equal(await cardText(page, '28-0316a27a1c44', '.topic'), 'home/kitchen/temperature');
  assert.equal(await cardText(page, '28-0316a27a1c44', '.ids'), '28-0316a27a1c44 · 28.441C7AA21603');
  assert.match(await cardText(page, '28-0316a27a1c44', '.chip'), /^DS18B20 on w1_bus_master1/);
  assert.match(await cardText(page, '28-0316a27a1c44', '.age'), /^\d+ s ago$/);
  // Each card in its own unit: °C, % and V for the DS2438, none for the DS2401's presence.
  assert.equal(await cardText(page, '28-0316a27a1c44', '.unit'), '°C');
  assert.equal(await cardText(page, '26-000000019a3b/humidity', '.unit'), '%');
  assert.equal(await cardText(page, '26-000000019a3b/vdd', '.unit'), 'V');
  assert.equal(await page.locator('article[data-sensor="01-0000efbeadde"] .unit').textContent(), '');

  // Broker, buses, unmapped devices with a snippet to copy.
  await page.waitForFunction(() => document.getElementById('broker')?.textContent === 'broker connected', undefined, { timeout: 15_000 });
  assert.equal(await page.locator('#buses tbody tr').count(), 2);
  assert.equal(await page.isVisible('#unmapped-section'), true);
  const snippet = await page.inputValue('#snippet');
  assert.match(snippet, /^sensors:\n/);
  assert.match(snippet, /^ {2}28-0000054c2ba1: {2}# DS18B20 on w1_bus_master1\n {4}topic: home\/28-0000054c2ba1\/temperature$/m);
  const pasted = parseConfigText(snippet, 'sensors.yaml');
  assert.ok(pasted.ok, 'the snippet is a valid sensors.yaml');
  assert.equal(Object.keys(pasted.config.sensors).length, 13);
  assert.match(snippet, /^ {2}26-000000019a3b: {2}# DS2438 on w1_bus_master2\n {4}topic: home\/26-000000019a3b\/temperature\n {4}name: DS2438 26-000000019a3b\n {4}humidity: home\/26-000000019a3b\/humidity$/m);
  assert.doesNotMatch(snippet, /28-0316a27a1c44/, 'mapped sensors are not in the snippet');

  // The chart draws: line-coloured pixels on the canvas once there are two readings.
  await page.waitForFunction(() => document.querySelector('article[data-sensor="28-0316a2792dff"] canvas') !== null, undefined, { timeout: 30_000 });
  await eventually('the living room chart to draw its line', async () => ((await linePixels(page, '28-0316a2792dff')) > 20 ? true : undefined), 30_000);

  // A value changed in the fixture tree appears without a reload: interval 2 s.
  const written = Date.now();
  await setFixtureTemperature(w1, '28-0316a2792dff', 26_500);
  await page.waitForFunction(() => document.querySelector('article[data-sensor="28-0316a2792dff"] .value')?.textContent === '26.50', undefined, { timeout: 15_000 });
  t.diagnostic(`fixture change on the page after ${Date.now() - written} ms (interval 2000 ms)`);
  assert.equal(await page.evaluate(() => (window as unknown as { loadedOnce?: number }).loadedOnce), 1, 'the page was not reloaded');
  assert.equal(requests.filter((u) => u.endsWith('/api/events')).length, 1, 'one event stream, no polling');

  // Usable on a phone: nothing wider than the screen; readable in dark mode.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, undefined, { timeout: 10_000 });
  await page.emulateMedia({ colorScheme: 'dark' });
  const [bg, fg] = await page.evaluate(() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]);
  assert.ok(luminance(bg) < 0.1 && luminance(fg) > 0.6, `dark mode: background ${bg}, text ${fg}`);
  await eventually('the chart redrawn in dark colours', async () => ((await linePixels(page, '28-0316a2792dff')) > 20 ? true : undefined), 15_000);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'web-page-phone-dark.png') });

  assert.deepEqual(errors, [], 'no console errors or warnings');
  assert.deepEqual(foreign, [], 'no request leaves the agent');
  assert.ok(requests.length >= 7 && requests.every((u) => u.startsWith(`${origin}/`)), requests.join('\n'));

  // The agent dies: the page says so, and its values turn stale after three intervals.
  await agent.stop('SIGKILL');
  await page.waitForFunction(() => document.getElementById('live')?.textContent === 'reconnecting…', undefined, { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelector('article[data-sensor="28-0316a27a1c44"]')?.getAttribute('data-state') === 'stale', undefined, { timeout: 20_000 });
});

test('w1mqtt demo serves the page and prints its URL; the README screenshot is made here', T, async (t) => {
  const webPort = await freePort();
  const demo = startCli(['demo', '--port', String(await freePort()), '--web-port', String(webPort), '--interval', '1s'], { env: { W1MQTT_LOG_FORMAT: 'json' } });
  t.after(() => demo.stop());
  const line = await demo.waitForLog((l) => l['module'] === 'web' && typeof l['url'] === 'string', 30_000);
  assert.equal(line['url'], `http://127.0.0.1:${webPort}/`);
  assert.equal(line['msg'], `web page at http://127.0.0.1:${webPort}/`);

  // Enough of the simulated drift for the charts to show a curve.
  await eventually('25 readings of the kitchen', async () => {
    const h = await getJson<{ t: number[] }>(webPort, '/api/history?sensor=28-0316a2792dff');
    return h.t.length >= 25 ? true : undefined;
  }, 90_000);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const { page, errors, foreign } = await openPage(t, browser, `http://127.0.0.1:${webPort}`, { width: 1200, height: 1000 });
  await page.waitForFunction(() => [...document.querySelectorAll('article.card h2')].map((h) => h.textContent).join('|').startsWith('Kitchen|Living room'), undefined, { timeout: 30_000 });
  await eventually('the kitchen chart', async () => ((await linePixels(page, '28-0316a2792dff')) > 50 ? true : undefined), 30_000);
  // The simulated bus changes values under the agent's feet: never a spurious fault.
  const faulty = await page.evaluate(() => [...document.querySelectorAll('article.card[data-state="fault"]')].map((c) => c.getAttribute('data-sensor')).sort());
  assert.deepEqual(faulty, Object.keys(FAULTY).sort());
  assert.equal(await page.textContent('#summary'), '19 sensors · 14 ok · 5 faulty');
  const dir = SHOTS ?? (await mkdtemp(join(tmpdir(), 'w1mqtt-shot-')));
  if (!SHOTS) t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'web-page.png') });
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
  assert.equal(await demo.stop(), 0, `demo exit; stderr:\n${demo.stderr()}\nstdout:\n${demo.stdout().slice(-3000)}`);
});

/** Relative luminance (0 black … 1 white) of a CSS `rgb(…)` colour. */
function luminance(css: string): number {
  const [r = 0, g = 0, b = 0] = (css.match(/\d+(\.\d+)?/g) ?? []).map(Number).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
