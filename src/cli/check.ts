import { findMosquitto, MOSQUITTO_MISSING } from '../broker/find-mosquitto.js';
import { formatDuration } from '../config/duration.js';
import { loadCliConfig } from './load-config.js';

/** `w1mqtt check`: validate sensors.yaml and print every problem; exit 1 if any. */
export async function checkCommand(args: { config?: string | undefined }): Promise<number> {
  const loaded = await loadCliConfig(args.config);
  if (!loaded.ok) {
    for (const line of loaded.lines) process.stdout.write(`${line}\n`);
    process.stdout.write(`${loaded.lines.length} problem${loaded.lines.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  const { config, file } = loaded;
  for (const line of loaded.warnings) process.stdout.write(`${line} (warning)\n`);
  if (config.mqtt.url === undefined && findMosquitto() === undefined) {
    process.stdout.write(`${file ?? 'defaults'}: ${MOSQUITTO_MISSING}\n1 problem\n`);
    return 1;
  }
  const sensors = Object.keys(config.sensors).length;
  const broker = config.mqtt.url ?? `bundled broker on ${config.broker.host}:${config.broker.port}`;
  const sources = config.sources?.map((s) => (s.type === 'owserver' ? `owserver:${s.host}:${s.port}` : `${s.type}:${s.path}`)).join(', ') ?? 'auto-detect';
  process.stdout.write(`${file ?? '(no sensors.yaml: defaults)'}: OK: ${sensors} sensor${sensors === 1 ? '' : 's'} mapped, interval ${formatDuration(config.interval)}, sources ${sources}, publishing to ${broker}\n`);
  return 0;
}
