import { defaultConfig, type Config } from '../config/schema.js';
import { formatProblem, loadConfigFile } from '../config/load.js';
import { locateConfig } from '../config/locate.js';

export type ConfigOutcome =
  | { readonly ok: true; readonly config: Config; readonly file: string | undefined; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly lines: string[] };

/** Shared by every command: find, read and validate sensors.yaml. */
export async function loadCliConfig(explicit: string | undefined): Promise<ConfigOutcome> {
  const { file } = await locateConfig(explicit);
  if (file === undefined) return { ok: true, config: defaultConfig(), file, warnings: [] };
  const result = await loadConfigFile(file);
  if (result.ok) return { ok: true, config: result.config, file, warnings: result.warnings.map(formatProblem) };
  return { ok: false, lines: result.problems.map(formatProblem) };
}
