import { stringify } from 'yaml';
import { deviceKind, type Measurement } from '../readings/kinds.js';
import { readTarget } from '../readings/device.js';
import { skeletonEntry } from '../config/skeleton.js';
import { measurementText } from '../readings/value-text.js';
import { formatValue } from '../readings/value-text.js';
import { thermometerFamily } from '../readings/families.js';
import { sensorMap } from '../mqtt/route.js';
import { createSource, detectSources } from '../sources/registry.js';
import { describeError, type ReadResult } from '../readings/read-result.js';
import { type Device } from '../readings/device.js';
import { type Source } from '../sources/source.js';
import { loadCliConfig } from './load-config.js';
import { errText } from '../system/err-text.js';

interface Row {
  readonly device: Device;
  readonly source: Source;
  /** One reading per measurement of the device's kind, main one first. */
  readonly results: readonly { readonly measurement: Measurement; readonly result: ReadResult }[];
  readonly mappedAs: string | undefined;
}

/** `w1mqtt scan`: what is on the bus, in both id notations, with one reading of each measurement. */
export async function scanCommand(args: { config?: string | undefined; yaml: boolean }): Promise<number> {
  const loaded = await loadCliConfig(args.config);
  if (!loaded.ok) {
    for (const line of loaded.lines) process.stderr.write(`${line}\n`);
    return 1;
  }
  const { config } = loaded;
  const sourceConfigs = config.sources ?? (await detectSources());
  if (sourceConfigs.length === 0) {
    process.stderr.write('No 1-Wire source found: no /sys/bus/w1/devices (enable the w1-gpio overlay), no OWFS mount at /mnt/1wire or /run/owfs, and no owserver on 127.0.0.1:4304.\n');
    return 1;
  }
  const mapped = sensorMap(config);
  const rows: Row[] = [];
  let failed = false;
  for (const sc of sourceConfigs) {
    const source = createSource(sc);
    try {
      // One read at a time: each w1 read holds the bus for up to 750 ms anyway.
      for (const device of await source.list()) {
        const results = [];
        for (const measurement of deviceKind(device.id.family)?.measurements ?? []) {
          results.push({ measurement, result: await source.read(readTarget(device, measurement)) });
        }
        rows.push({ device, source, results, mappedAs: mapped.get(device.id.sysfs)?.key });
      }
    } catch (err) {
      failed = true;
      process.stderr.write(`${source.name}: cannot list devices: ${errText(err)}\n`);
    } finally {
      await source.close();
    }
  }
  process.stdout.write(args.yaml ? skeleton(rows, config.mqtt.base_topic) : table(rows));
  return failed && rows.length === 0 ? 1 : 0;
}

/** `23.125 °C` for a thermometer (three decimals: what the chip resolves); `21.844 °C, humidity 49.8 %, …` or `present` for the others. */
function reading(row: Row): string {
  return row.results
    .map(({ measurement: m, result }, i) => {
      const name = i === 0 ? '' : `${m.name} `;
      if (!result.ok) return `${name}error: ${describeError(result.error)}`;
      const value = result.milli / 1000;
      if (m.quantity === 'presence') return `${name}${value > 0 ? 'present' : 'absent'}`;
      const text = m.quantity === 'temperature' ? formatValue(value, 3) : measurementText(m, value, 2);
      return `${name}${text} ${m.unit}`;
    })
    .join(', ');
}

function table(rows: readonly Row[]): string {
  if (rows.length === 0) return 'No 1-Wire devices found.\n';
  const header = ['SYSFS ID', 'OWFS ID', 'CHIP', 'SOURCE', 'MAPPED', 'READING'];
  const body = rows.map((r) => [r.device.id.sysfs, r.device.id.owfs, r.device.chip, r.source.name, r.mappedAs ? 'yes' : 'no', reading(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return `${[line(header), ...body.map(line)].join('\n')}\n${summary(rows)}\n`;
}

/** `2 thermometers`, or `15 devices: 13 thermometers, 1 DS2438, 1 DS2401`. */
function summary(rows: readonly Row[]): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const counts = new Map<string, number>([['thermometer', 0]]);
  for (const r of rows) {
    const what = thermometerFamily(r.device.id.family) ? 'thermometer' : r.device.chip;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  const thermometers = counts.get('thermometer') ?? 0;
  if (thermometers === rows.length) return plural(thermometers, 'thermometer');
  const parts = [...counts].filter(([, n]) => n > 0).map(([what, n]) => (what === 'thermometer' ? plural(n, what) : `${n} ${what}`));
  return `${plural(rows.length, 'device')}: ${parts.join(', ')}`;
}

/** A sensors.yaml `sensors:` block to paste and edit; comments carry chip and reading. */
function skeleton(rows: readonly Row[], baseTopic: string): string {
  const sensors: Record<string, Record<string, string>> = {};
  const seen = new Set<string>();
  for (const r of rows) {
    // A chip seen through two sources (w1 and OWFS) is listed once, as the agent polls it once.
    if (seen.has(r.device.id.sysfs)) continue;
    seen.add(r.device.id.sysfs);
    sensors[r.device.name] = skeletonEntry(r.device, baseTopic);
  }
  const lines = stringify({ sensors }).split('\n');
  const out = lines.map((l) => {
    const row = rows.find((r) => l === `  ${r.device.name}:`);
    return row ? `${l}  # ${row.device.chip}, ${row.source.name}, ${reading(row)}` : l;
  });
  return `# Generated by \`w1mqtt scan --yaml\`: rename the topics and names, then save as sensors.yaml\n${out.join('\n')}`;
}
