import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

/**
 * The shape of src/ (DESIGN.md §2) as tests: the import rules in .dependency-cruiser.cjs
 * (acyclic folders, readings/ and onewire/ importing nothing above them, nothing reaching
 * up into cli/ or main.ts), and files small enough to hold one idea.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const MAX_LINES = 300;

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.(ts|cjs|mjs)$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

test('imports follow the rules in .dependency-cruiser.cjs', { timeout: 120_000 }, async () => {
  const depcruise = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
  const run = promisify(execFile)(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: ROOT, maxBuffer: 16 << 20 });
  const outcome = await run.then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );
  assert.equal(outcome.code, 0, outcome.out);
  assert.match(outcome.out, /no dependency violations found/, 'the rules ran over src/');
});

test(`no source file is longer than ${MAX_LINES} lines`, { timeout: 20_000 }, async () => {
  const long: string[] = [];
  for (const file of await sourceFiles(join(ROOT, 'src'))) {
    const lines = (await readFile(file, 'utf8')).split('\n').length - 1;
    if (lines > MAX_LINES) long.push(`${relative(ROOT, file)}: ${lines} lines`);
  }
  assert.deepEqual(long, []);
});
