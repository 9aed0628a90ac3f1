/**
 * The configuration from the YAML text and the environment: pure (text and variables in, the
 * resolved configuration and every problem out). Each value comes from, first match wins:
 * its `FLOWSENTRY_<SECTION>_<KEY>` variable, the file, the schema's default. A command-line
 * option beats all three (cli/command.ts). Nothing stops at the first problem: the file's
 * syntax, unknown sections and keys (with the nearest known name), wrong types and unknown
 * `FLOWSENTRY_…` variables are all reported, each with its path.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { configEnvAllowList, configSchema, envPrefix, envVariableOf, type FlowsentryConfig } from './config-schema.js';
import type { ConfigValue, KeySpec } from './schema-types.js';
import { didYouMean } from './suggest.js';
import { checkEnvText, checkValue, shown, type ValueProblem } from './value-types.js';

/** Where a value came from. */
export type ValueSource = { readonly from: 'default' } | { readonly from: 'file'; readonly line?: number } | { readonly from: 'env'; readonly variable: string };

export interface LoadedConfig {
  /** The file read, if any. */
  readonly file?: string;
  readonly config: FlowsentryConfig;
  /** Where each set value came from, by `section.key`. */
  readonly sources: Readonly<Record<string, ValueSource>>;
  /** Every problem, each naming its path (`enrich.cluster-cidr`) or variable; empty when valid. */
  readonly problems: readonly string[];
}

export interface ConfigInput {
  /** The YAML text; absent when there is no file. */
  readonly text?: string;
  /** The file's name, for messages. */
  readonly file?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type Env = Readonly<Record<string, string | undefined>>;
type Raw = Record<string, unknown>;

const sections = configSchema as Readonly<Record<string, { readonly keys: Readonly<Record<string, KeySpec>> }>>;

/** Every override variable, with the key it sets. */
export const envKeys: ReadonlyMap<string, { readonly section: string; readonly key: string }> = new Map(
  Object.entries(sections).flatMap(([section, spec]) => Object.keys(spec.keys).map((key) => [envVariableOf(section, key), { section, key }] as const)),
);

const isRecord = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The line of `path` (its key, or a list item) in the document, when it is there. */
function lineOf(doc: Document, lines: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const segment of path) {
    if (typeof segment === 'number' && isSeq(node)) {
      node = node.items[segment];
      offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0] ?? offset;
      continue;
    }
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
    if (!pair) break;
    offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
    node = pair.value;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

/** The file's sections, and its problems; `{}` when there is no text or it does not parse. */
function readText(input: ConfigInput, problems: string[]): { raw: Raw; line: (path: readonly (string | number)[]) => number | undefined } {
  const none = { raw: {}, line: () => undefined };
  if (input.text === undefined) return none;
  const lines = new LineCounter();
  const doc = parseDocument(input.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const { line, col } = lines.linePos(error.pos[0]);
      problems.push(`${input.file ?? 'config'}:${line}:${col}: YAML syntax error: ${error.message}`);
    }
    return none;
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) return none;
  if (!isRecord(raw)) {
    problems.push(`(top level): expected a mapping of sections, got ${shown(raw)}`);
    return none;
  }
  return { raw, line: (path) => lineOf(doc, lines, path) };
}

const at = (line: number | undefined) => (line === undefined ? '' : ` (line ${line})`);

/** The configuration that `input` describes, and every problem with it. */
export function loadConfig(input: ConfigInput): LoadedConfig {
  const problems: string[] = [];
  const env: Env = input.env ?? {};
  const { raw, line } = readText(input, problems);

  const fromFile = new Map<string, { value: ConfigValue; line: number | undefined }>();
  for (const [section, body] of Object.entries(raw)) {
    const spec = sections[section];
    if (!spec) {
      problems.push(`${section}: unknown section${didYouMean(section, Object.keys(sections))}${at(line([section]))}`);
      continue;
    }
    if (body === null || body === undefined) continue;
    if (!isRecord(body)) {
      problems.push(`${section}: expected a mapping of keys, got ${shown(body)}${at(line([section]))}`);
      continue;
    }
    for (const [key, value] of Object.entries(body)) {
      const keySpec = spec.keys[key];
      if (!keySpec) {
        problems.push(`${section}.${key}: unknown key${didYouMean(key, Object.keys(spec.keys))}${at(line([section, key]))}`);
        continue;
      }
      if (value === null || value === undefined) continue;
      const checked = checkValue(keySpec.type, value);
      const lineAt = (problem: ValueProblem) => line(problem.at === '' ? [section, key] : [section, key, Number(problem.at.slice(1, -1))]);
      for (const problem of checked.problems) problems.push(`${section}.${key}${problem.at}: ${problem.message}${at(lineAt(problem))}`);
      if (checked.value !== undefined) fromFile.set(`${section}.${key}`, { value: checked.value, line: line([section, key]) });
    }
  }

  const fromEnv = new Map<string, { value: ConfigValue; variable: string }>();
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(envPrefix) || configEnvAllowList.includes(variable)) continue;
    const target = envKeys.get(variable);
    if (!target) {
      problems.push(`${variable}: unknown variable${didYouMean(variable, envKeys.keys())}`);
      continue;
    }
    const text = env[variable];
    if (text === undefined || text === '') continue;
    const path = `${target.section}.${target.key}`;
    const checked = checkEnvText(sections[target.section]!.keys[target.key]!.type, text);
    for (const problem of checked.problems) problems.push(`${variable}${problem.at} (${path}): ${problem.message}`);
    if (checked.value !== undefined) fromEnv.set(path, { value: checked.value, variable });
  }

  const config: Record<string, Record<string, ConfigValue>> = {};
  const sources: Record<string, ValueSource> = {};
  for (const [section, spec] of Object.entries(sections)) {
    const values: Record<string, ConfigValue> = {};
    for (const [key, keySpec] of Object.entries(spec.keys)) {
      const path = `${section}.${key}`;
      const env = fromEnv.get(path);
      const file = fromFile.get(path);
      if (env) {
        values[key] = env.value;
        sources[path] = { from: 'env', variable: env.variable };
      } else if (file) {
        values[key] = file.value;
        sources[path] = file.line === undefined ? { from: 'file' } : { from: 'file', line: file.line };
      } else if (keySpec.default !== undefined) {
        values[key] = keySpec.default as ConfigValue;
        sources[path] = { from: 'default' };
      }
    }
    config[section] = values;
  }
  return { ...(input.file !== undefined ? { file: input.file } : {}), config: config as unknown as FlowsentryConfig, sources, problems };
}
