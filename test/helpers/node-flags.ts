import { readFileSync } from 'node:fs';

/** The node flags of bin/w1mqtt.cjs's #! line: what every start of the agent runs with. */
export function agentNodeFlags(): string[] {
  const line = readFileSync(new URL('../../bin/w1mqtt.cjs', import.meta.url), 'utf8').split('\n')[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(line);
  if (!m) throw new Error(`bin/w1mqtt.cjs: unexpected #! line: ${line}`);
  return (m[1] ?? '').split(' ').filter((f) => f !== '');
}
