// The live page: one EventSource to /api/events. Every (re)connection starts with a
// full snapshot, then one event per reading, so the page never needs a reload.
import { SensorCard } from './cards.js';
import { stateAt } from './format.js';
import { renderStatus, wireCopyButton } from './panels.js';

const $ = (id) => document.getElementById(id);
const cards = new Map(); // sensor key → SensorCard
let skew = 0; // server clock − this device's clock, ms
let windowMs = 24 * 3600 * 1000;

const serverNow = () => Date.now() + skew;
const syncClock = (now) => {
  skew = now - Date.now();
};

/** Mapped sensors by name first, then unmapped ones by id: a stable order. */
function order(a, b) {
  if (a.mapped !== b.mapped) return a.mapped ? -1 : 1;
  return a.name.localeCompare(b.name, undefined, { numeric: true });
}

function renderSnapshot(snap) {
  syncClock(snap.now);
  windowMs = snap.windowMs;
  const grid = $('sensors');
  const keep = new Set(snap.sensors.map((s) => s.key));
  for (const [key, card] of cards) {
    if (!keep.has(key)) {
      card.remove();
      cards.delete(key);
    }
  }
  const sorted = [...snap.sensors].sort(order);
  for (const sensor of sorted) {
    let card = cards.get(sensor.key);
    if (card) card.update(sensor, snap.now);
    else cards.set(sensor.key, (card = new SensorCard(sensor, snap.now)));
    grid.append(card.root); // re-appending keeps the order
    const h = snap.history[sensor.key] ?? { t: [], v: [] };
    card.chart.set(h.t, h.v);
  }
  $('empty').hidden = snap.sensors.length > 0;
  renderStatus(snap.status);
  summarize();
}

function onSensor(msg) {
  syncClock(msg.now);
  const card = cards.get(msg.sensor.key);
  if (!card) return; // a new sensor comes with the next snapshot
  card.update(msg.sensor, msg.now);
  if (msg.point) card.chart.push(msg.point[0], msg.point[1], windowMs);
  summarize();
}

function summarize() {
  const now = serverNow();
  const counts = { ok: 0, stale: 0, fault: 0, waiting: 0 };
  for (const card of cards.values()) counts[stateAt(card.sensor, now)]++;
  const parts = [`${cards.size} sensor${cards.size === 1 ? '' : 's'}`, `${counts.ok} ok`];
  if (counts.stale) parts.push(`${counts.stale} stale`);
  if (counts.fault) parts.push(`${counts.fault} faulty`);
  $('summary').textContent = parts.join(' · ');
}

function setLive(state, text) {
  const pill = $('live');
  pill.dataset.state = state;
  pill.textContent = text;
}

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => setLive('ok', 'live'));
  // EventSource retries by itself (the server sets retry: 3 s).
  events.addEventListener('error', () => setLive('connecting', 'reconnecting…'));
  events.addEventListener('snapshot', (e) => renderSnapshot(JSON.parse(e.data)));
  events.addEventListener('sensor', (e) => onSensor(JSON.parse(e.data)));
  events.addEventListener('status', (e) => {
    const status = JSON.parse(e.data);
    syncClock(status.now);
    renderStatus(status);
  });
}

function start() {
  wireCopyButton();
  connect();
  setInterval(() => {
    const now = serverNow();
    for (const card of cards.values()) card.tick(now);
    summarize();
  }, 1000);
  // Charts are drawn in pixels: redraw on a width change and on a light/dark switch.
  let width = 0;
  new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w === width) return;
    width = w;
    for (const card of cards.values()) card.chart.rebuild();
  }).observe($('sensors'));
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    for (const card of cards.values()) card.chart.rebuild();
  });
}

start();
