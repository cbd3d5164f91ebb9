#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { checkCommand } from './cli/check.js';
import { demoCommand } from './cli/demo.js';
import { CONFIG_MOVED, PASSWD_USAGE, passwdCommand } from './cli/passwd.js';
import { runCommand } from './cli/run.js';
import { scanCommand } from './cli/scan.js';
import { UsageError, USAGE } from './cli/usage.js';
import { packageVersion } from './version.js';
import { errText } from './system/err-text.js';
import { stderrErrorPrefix } from './log-journal.js';

async function main(argv: string[]): Promise<number> {
  // passwd takes mosquitto_passwd's arguments, where -c means create, not --config.
  if (argv[0] === 'passwd') return passwdCommand(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      yaml: { type: 'boolean' },
      port: { type: 'string' },
      interval: { type: 'string' },
      'web-port': { type: 'string' },
      realistic: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`w1mqtt ${packageVersion()}\n`);
    return 0;
  }
  const [command = 'run', ...extra] = positionals;
  // Options before `passwd` are the old form (--config FILE USER) or misplaced.
  if (command === 'passwd') throw new UsageError(values.config !== undefined ? CONFIG_MOVED : `passwd's options go after it: ${PASSWD_USAGE}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  switch (command) {
    case 'run':
      return runCommand({ config: values.config });
    case 'demo':
      return demoCommand({ port: values.port, interval: values.interval, webPort: values['web-port'], realistic: values.realistic === true });
    case 'scan':
      return scanCommand({ config: values.config, yaml: values.yaml === true });
    case 'check':
      return checkCommand({ config: values.config });
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const isUsage = err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`${stderrErrorPrefix()}w1mqtt: ${errText(err)}\n`);
    if (isUsage) process.stderr.write(`\n${USAGE}`);
    process.exitCode = isUsage ? 2 : 1;
  },
);
