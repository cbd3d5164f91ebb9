import { chromium, type Browser } from 'playwright-core';
import { findBinary } from './mosquitto.js';

/**
 * Debian's chromium, driven by playwright-core (which never downloads a browser).
 * The flags keep chromium from calling out to the network on its own; playwright
 * gives every launch a fresh temporary profile (--user-data-dir).
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--no-pings',
];

export function chromiumPath(): string | undefined {
  return process.env['CHROMIUM_PATH'] || findBinary('chromium');
}

/** True when chromium is installed. In CI a missing chromium is an error, never a skip. */
export function haveChromium(): boolean {
  if (chromiumPath() !== undefined) return true;
  if (process.env['CI']) throw new Error('chromium is not installed; browser tests must not skip in CI (apt-get install chromium)');
  return false;
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error('chromium is not installed (apt-get install chromium)');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
}
