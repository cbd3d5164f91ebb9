import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { MEASUREMENT_NAMES } from '../readings/kinds.js';
import { RETIRED_KEYS } from './retired.js';
import { configSchema, type Config } from './schema.js';
import { closestKey, schemaKeys } from './schema-keys.js';
import { errText } from '../system/err-text.js';
import { readSmallFile } from '../system/small-file.js';
import { duplicateKeys, MAX_CONFIG_BYTES } from './unique-keys.js';

/** One problem in a config file, located for the user: `sensors.yaml:12:5 sensors.28-….interval: …`. */
export interface ConfigProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted path into the document; empty for syntax errors. */
  readonly path: string;
  readonly message: string;
}

export type LoadResult =
  | { readonly ok: true; readonly config: Config; readonly file: string; readonly warnings: readonly ConfigProblem[] }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[]; readonly file: string };

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}${p.path ? ` ${p.path}` : ''}: ${p.message}`;
}

/** Read and validate a sensors.yaml. Never throws for bad content; I/O errors become one problem. */
export async function loadConfigFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    // A regular file of at most MAX_CONFIG_BYTES: a FIFO or a 50 MB file is refused, saying what it is.
    text = (await readSmallFile(file, MAX_CONFIG_BYTES)).text;
  } catch (err) {
    const message = errText(err);
    return { ok: false, file, problems: [{ file, line: 1, col: 1, path: '', message: `cannot read: ${message}` }] };
  }
  return parseConfigText(text, file);
}

/** Pure: YAML text → config or every problem at once, each with line and column. */
export function parseConfigText(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };
  const duplicates = doc.errors.length > 0 ? [] : duplicateKeys(doc);
  if (doc.errors.length > 0 || duplicates.length > 0) {
    const problems = [...doc.errors.map((e) => ({ offset: e.pos[0], message: e.message.split('\n')[0] ?? e.message })), ...duplicates]
      .sort((a, b) => a.offset - b.offset)
      .map((e) => ({ file, ...at(e.offset), path: '', message: e.message }));
    return { ok: false, file, problems };
  }
  // reportInput: a wrong-type issue then carries the value, to say what was found.
  const result = configSchema.safeParse(doc.toJS() ?? {}, { reportInput: true });
  if (result.success) {
    const warnings = RETIRED_KEYS.filter((r) => doc.hasIn(r.path)).map((r) => ({ file, ...at(keyOffset(doc.getIn(r.path.slice(0, -1), true), r.path.at(-1) ?? '') ?? 0), path: r.path.join('.'), message: r.message }));
    return { ok: true, file, config: result.data, warnings };
  }
  const issues = result.error.issues.flatMap((issue) => expandUnion(issue, []));
  const problems = issues.flatMap((issue) => locateIssue(doc, issue).map((loc) => ({ file, ...at(loc.offset), path: loc.path, message: loc.message })));
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return { ok: false, file, problems };
}

interface Located {
  readonly offset: number;
  readonly path: string;
  readonly message: string;
}

/** Map one zod issue to the YAML node it is about; unknown keys point at each key. */
function locateIssue(doc: Document, issue: z.core.$ZodIssue): Located[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const parent = doc.getIn(path, true);
    return issue.keys.map((key) => ({
      offset: keyOffset(parent, key) ?? nodeOffset(doc, path),
      path: [...path, key].join('.'),
      message: `unknown key "${key}"${suggest(key)}`,
    }));
  }
  // Issues about a mapping key itself (a bad sensor id) point at the key, not its value.
  const aboutKey = issue.code === 'custom' && issue.params?.['at'] === 'key';
  const keyAt = aboutKey ? keyOffset(doc.getIn(path.slice(0, -1), true), path[path.length - 1] ?? '') : undefined;
  return [{ offset: keyAt ?? nodeOffset(doc, path), path: path.join('.'), message: issueMessage(issue) }];
}

/**
 * A value that fits one branch of a union by type (a mapping where a topic string or a
 * mapping is allowed) is wrong inside that branch: report those issues, each at its own
 * place, instead of one "invalid input" on the whole entry.
 */
function expandUnion(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): z.core.$ZodIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union') return [{ ...issue, path }];
  const fitting = issue.errors.filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
  const [only] = fitting;
  if (fitting.length !== 1 || !only) return [{ ...issue, path }];
  return only.flatMap((i) => expandUnion(i, path));
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && (MEASUREMENT_NAMES as readonly PropertyKey[]).includes(issue.path[issue.path.length - 1] ?? '')) {
    return 'expected a topic string, false, or a mapping with topic, name, interval, offset, enabled';
  }
  if (issue.code === 'invalid_union') return 'expected a topic string or a mapping with topic, name, interval, offset, enabled, queue';
  if (issue.code === 'invalid_type') return typeMessage(issue.expected, issue.input);
  return issue.message;
}

/** Offset of the deepest node that exists along `path` (a missing key points at its parent). */
function nodeOffset(doc: Document, path: readonly string[]): number {
  for (let depth = path.length; depth > 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isNodeWithRange(node)) return node.range[0];
    // `key:` with no value: point at the key.
    const keyAt = keyOffset(doc.getIn(path.slice(0, depth - 1), true) ?? doc.contents, path[depth - 1] ?? '');
    if (keyAt !== undefined) return keyAt;
  }
  return isNodeWithRange(doc.contents) ? doc.contents.range[0] : 0;
}

function keyOffset(parent: unknown, key: string): number | undefined {
  if (!isMap(parent)) return undefined;
  for (const pair of parent.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) return pair.key.range[0];
  }
  return undefined;
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray((node as { range?: unknown }).range);
}

/** `required, expected boolean` for a missing value; `expected boolean, got string` for one of the wrong type. */
function typeMessage(expected: string, input: unknown): string {
  if (input === undefined) return `required, expected ${expected}`;
  const got = input === null ? 'null (no value)' : Array.isArray(input) ? 'array' : typeof input;
  // YAML 1.2 reads yes/no/on/off as strings, not as YAML 1.1's booleans.
  const hint = expected === 'boolean' && typeof input === 'string' && /^(yes|no|on|off|y|n)$/i.test(input) ? ' (write true or false)' : '';
  return `expected ${expected}, got ${got}${hint}`;
}

/** Every key the schema knows, for "did you mean …". */
const KNOWN_KEYS = schemaKeys(configSchema);

/** "did you mean …" for a typo of a known option name. */
function suggest(key: string): string {
  const close = closestKey(key, KNOWN_KEYS);
  return close ? ` (did you mean "${close}"?)` : '';
}
