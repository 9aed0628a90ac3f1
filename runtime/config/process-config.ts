/**
 * The configuration of this process: the file named by `--config` or FLOWSENTRY_CONFIG (none is
 * fine: the environment and the defaults), read and validated once, its global sections set as
 * defaults of the environment variables the code reads. Every command gets it through
 * `parseOptions` (cli/command.ts); anything else reads it with `processConfig()`.
 */
import { readFileSync } from 'node:fs';
import { applyEnvironmentDefaults, type EnvironmentChange } from './config-effects.js';
import { loadConfig, type LoadedConfig } from './load-config.js';

export interface ProcessConfig extends LoadedConfig {
  /** Environment variables set from the configuration, and those the environment already had (they win). */
  readonly environment: EnvironmentChange;
}

/** Reads `file` (none: the environment alone) and loads it; a file that cannot be read is one more problem. */
export function readConfig(file: string | undefined, env: Readonly<Record<string, string | undefined>>): LoadedConfig {
  if (file === undefined) return loadConfig({ env });
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const loaded = loadConfig({ file, env });
    return { ...loaded, problems: [`${file}: cannot be read: ${(error as Error).message}`, ...loaded.problems] };
  }
  return loadConfig({ text, file, env });
}

let current: ProcessConfig | undefined;

/**
 * The process's configuration, loaded on the first call: from `file`, else FLOWSENTRY_CONFIG,
 * else none. Later calls return the same object, unless they name another file, which is then
 * loaded in its place. When it is valid, its global keys fill the environment variables that are
 * unset; with problems, nothing is applied (the command reports them and exits 2).
 */
export function loadProcessConfig(file?: string, env: NodeJS.ProcessEnv = process.env): ProcessConfig {
  if (current && (file === undefined || file === current.file)) return current;
  const loaded = readConfig(file ?? (env.FLOWSENTRY_CONFIG || undefined), env);
  const environment = loaded.problems.length === 0 ? applyEnvironmentDefaults(loaded, env) : { set: [], kept: [] };
  current = { ...loaded, environment };
  return current;
}

/**
 * The configuration this process runs with, typed by the schema (`processConfig().config.run.stages`,
 * `.store.path`, `.server.port`, `.log.level`): the one the command loaded, or, when nothing has
 * loaded one yet, FLOWSENTRY_CONFIG's. Once a command has started, `problems` is empty.
 */
export function processConfig(): ProcessConfig {
  return loadProcessConfig();
}

/** Every problem under one heading: `flowsentry enrich: 2 problem(s) in the configuration (flowsentry.yaml, FLOWSENTRY_* variables):`. */
export function configProblemsReport(command: string, loaded: LoadedConfig): string {
  const where = loaded.file === undefined ? 'FLOWSENTRY_* variables' : `${loaded.file}, FLOWSENTRY_* variables`;
  return `flowsentry ${command}: ${loaded.problems.length} problem(s) in the configuration (${where}):\n${loaded.problems.map((problem) => `  - ${problem}`).join('\n')}`;
}
