import { History, HISTORY_WINDOW_MS } from '../src/web/history.js';

/**
 * One process holding the page's history of `sensors` sensors read every `intervalMs`, fast-
 * forwarded through a simulated day (times passed in, as the agent's injected clock does; no
 * waiting). Prints JSON: bytes per sensor, the chart of every sensor (what /api/history
 * serves), the saved file's bytes per sensor, and the process's peak RSS before and after
 * building the saved form.
 */
const [sensorsArg = '1', intervalArg = '1000'] = process.argv.slice(2);
const sensors = Number(sensorsArg);
const intervalMs = Number(intervalArg);
const keys = Array.from({ length: sensors }, (_, i) => `28-${i.toString(16).padStart(12, '0')}`);
const start = 1_800_000_000_000;
const end = start + HISTORY_WINDOW_MS;
const h = new History();
const cpu0 = process.cpuUsage();
for (let t = start; t <= end; t += intervalMs) {
  // A slow wave with the DS18B20's 1/16 °C steps, and a failed read now and then.
  const v = Math.round((20 + 3 * Math.sin(t / 3_600_000)) * 16) / 16;
  for (let i = 0; i < keys.length; i++) h.record(keys[i] ?? '', intervalMs, t, (t / intervalMs + i) % 997 === 0 ? NaN : v);
}
const cpu = process.cpuUsage(cpu0);
const heldRssMb = process.resourceUsage().maxRSS / 1024;
let chartPoints = 0;
for (const k of keys) chartPoints = Math.max(chartPoints, h.chart(k, end).t.length);
const bytesPerSensor = h.bytesFor(keys[0] ?? '');
// The saved form as a clean stop writes it (history-file.ts): one sensor's JSON at a time.
let savedBytes = 0;
for (const [key, series] of h.saved(end)) savedBytes += Buffer.byteLength(`${JSON.stringify(key)}:${JSON.stringify(series)},`);
process.stdout.write(
  `${JSON.stringify({
    sensors,
    intervalMs,
    readings: keys.length * (HISTORY_WINDOW_MS / intervalMs + 1),
    cpuS: (cpu.user + cpu.system) / 1e6,
    bytesPerSensor,
    chartPoints,
    fileBytesPerSensor: savedBytes / sensors,
    heldRssMb,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
