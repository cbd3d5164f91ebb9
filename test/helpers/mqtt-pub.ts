import { spawn } from 'node:child_process';
import { findBinary, stopChild } from './mosquitto.js';

/**
 * The real `mosquitto_pub`, run to completion (bounded): what a user or a script
 * would run. `-d` output is kept so a test can see whether the broker acknowledged.
 */
export async function publishOnce(opts: {
  port: number;
  topic: string;
  message: string;
  username?: string;
  password?: string;
  clientId?: string;
  qos?: 0 | 1;
  retain?: boolean;
  extra?: string[];
  timeoutMs?: number;
}): Promise<{ code: number | string; output: string }> {
  const args = ['-h', '127.0.0.1', '-p', String(opts.port), '-d', '-t', opts.topic, '-m', opts.message, '-q', String(opts.qos ?? 1)];
  if (opts.retain) args.push('-r');
  if (opts.username !== undefined) args.push('-u', opts.username);
  if (opts.password !== undefined) args.push('-P', opts.password);
  if (opts.clientId !== undefined) args.push('-i', opts.clientId);
  args.push(...(opts.extra ?? []));
  const child = spawn(findBinary('mosquitto_pub') ?? 'mosquitto_pub', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, opts.timeoutMs ?? 10_000, 'timeout')));
  const code = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (code === 'timeout') await stopChild(child);
  return { code, output };
}
