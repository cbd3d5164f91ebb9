import { cp, readdir, readFile, rename, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeviceId, isOwfsDeviceName, isSysfsSlaveName } from '../onewire/ids.js';
import { readingFromW1Slave } from '../onewire/scratchpad.js';
import { encodeScratchpad, formatW1Slave, kernelMilli } from '../onewire/scratchpad-encode.js';
import { readingFromOwfsText } from '../sources/owfs-value.js';
import { packageRoot } from '../system/package-root.js';

/** The fixture trees shipped with the package. */
export const FIXTURES_DIR = new URL('fixtures/', packageRoot());

interface Drifter {
  readonly write: (milli: number) => Promise<void>;
  readonly baseMilli: number;
  readonly phase: number;
}

/**
 * A copy of the fixture 1-Wire trees whose good sensors change over time, so the
 * demo shows live values. Faulty fixture sensors stay faulty: the demo shows how
 * the agent reports them (once, not per poll).
 */
export class SimulatedBus {
  readonly w1Path: string;
  readonly owfsPath: string;
  readonly #drifters: Drifter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #step = 0;

  constructor(dir: string) {
    this.w1Path = join(dir, 'w1', 'devices');
    this.owfsPath = join(dir, 'owfs');
  }

  /** Copy the trees (symlinks kept, as in /sys/bus/w1/devices) and find the drifting sensors. */
  async create(): Promise<void> {
    await cp(new URL('w1/', FIXTURES_DIR), join(this.w1Path, '..'), { recursive: true, verbatimSymlinks: true });
    await cp(new URL('owfs/', FIXTURES_DIR), this.owfsPath, { recursive: true });
    for (const name of (await readdir(this.w1Path)).filter(isSysfsSlaveName)) {
      const file = join(this.w1Path, name, 'w1_slave');
      const text = await readFile(file, 'latin1').catch(() => '');
      const result = readingFromW1Slave(text);
      const id = parseDeviceId(name);
      if (!result.ok || !id) continue;
      const dir = join(this.w1Path, name);
      const resolution = await readResolution(dir);
      this.#add(result.milli, async (milli) => {
        const bytes = encodeScratchpad(id.family, milli, id.family === '10' ? {} : { resolution });
        const t = kernelMilli(id.family, bytes);
        await writeAtomic(file, formatW1Slave(bytes, t));
        await writeAtomic(join(dir, 'temperature'), `${t}\n`);
      });
    }
    for (const name of (await readdir(this.owfsPath)).filter(isOwfsDeviceName)) {
      const files = [join(this.owfsPath, name, 'temperature'), join(this.owfsPath, 'uncached', name, 'temperature')];
      const result = readingFromOwfsText(await readFile(files[0] ?? '', 'latin1').catch(() => ''));
      if (!result.ok) continue;
      this.#add(result.milli, async (milli) => {
        // OWFS prints %G: six significant digits, trimmed through FUSE.
        const text = String(Number((milli / 1000).toPrecision(6)));
        for (const f of files) if (await exists(f)) await writeAtomic(f, text);
      });
    }
  }

  #add(baseMilli: number, write: (milli: number) => Promise<void>): void {
    this.#drifters.push({ baseMilli, write, phase: this.#drifters.length });
  }

  /** Change every good sensor a little every `everyMs`. */
  start(everyMs: number): void {
    this.#timer = setInterval(() => {
      // A write that fails (the tree removed under us) only leaves that value as it was.
      this.#inFlight = this.#inFlight.then(() => this.tick()).catch(() => {});
    }, everyMs);
    this.#timer.unref();
  }

  async tick(): Promise<void> {
    this.#step++;
    for (const d of this.#drifters) {
      const wave = Math.sin((this.#step + d.phase * 3) / 6) * 1500;
      await d.write(Math.round((d.baseMilli + wave) / 62.5) * 62.5);
    }
  }

  /** Stops the changes; resolves once a change in progress is written, so the tree can be removed. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#inFlight;
  }
}

async function readResolution(dir: string): Promise<9 | 10 | 11 | 12> {
  const text = await readFile(join(dir, 'resolution'), 'latin1').catch(() => '12');
  const n = Number(text.trim());
  return n === 9 || n === 10 || n === 11 ? n : 12;
}

/**
 * The agent may read while we write: a plain writeFile truncates first, so a read in
 * between sees an empty file (an `empty_read` fault the kernel would never cause).
 * A rename replaces the file in one step.
 */
async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFile(`${file}.new`, text);
  await rename(`${file}.new`, file);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
