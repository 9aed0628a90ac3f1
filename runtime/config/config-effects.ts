/**
 * What a loaded configuration does to a process: a command's section fills the options its
 * command line did not give, and the global sections become defaults for the environment
 * variables the code reads. Pure: values and variables in, values and variables out.
 */
import type { ParseArgsConfig } from 'node:util';
import { configSchema } from './config-schema.js';
import type { LoadedConfig } from './load-config.js';
import type { ConfigValue, KeySpec } from './schema-types.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type OptionValue = string | boolean | string[];

const sections = configSchema as Readonly<Record<string, { readonly keys: Readonly<Record<string, KeySpec>> }>>;

/** A configured value as parseArgs would have returned the option: a string, a boolean, or strings when it repeats. */
function asOption(value: ConfigValue, spec: OptionSpecs[string]): OptionValue {
  if (spec.type === 'boolean') return value === true;
  const items = Array.isArray(value) ? value.map(String) : [String(value)];
  return spec.multiple ? items : items.join(',');
}

/**
 * `section`'s configured values (from the file or a variable, not the schema's defaults: a command
 * keeps its own) as option values of the command whose options are `specs`, for the options the
 * command line left out. Keys that are not options of the command are left alone.
 */
export function optionValuesFromConfig(loaded: LoadedConfig, section: string, specs: OptionSpecs, given: Readonly<Record<string, unknown>>): Record<string, OptionValue> {
  const filled: Record<string, OptionValue> = {};
  const values = (loaded.config as unknown as Readonly<Record<string, Readonly<Record<string, ConfigValue>>>>)[section];
  if (!values || !sections[section]) return filled;
  for (const [key, value] of Object.entries(values)) {
    const spec = specs[key];
    const source = loaded.sources[`${section}.${key}`];
    if (!spec || given[key] !== undefined || !source || source.from === 'default') continue;
    filled[key] = asOption(value, spec);
  }
  return filled;
}

/** The environment variables the configured global keys stand for (`kafka.brokers` → KAFKA_BROKERS), by name. */
export function environmentFromConfig(loaded: LoadedConfig): Record<string, string> {
  const variables: Record<string, string> = {};
  const values = loaded.config as unknown as Readonly<Record<string, Readonly<Record<string, ConfigValue>>>>;
  for (const [section, spec] of Object.entries(sections)) {
    for (const [key, keySpec] of Object.entries(spec.keys)) {
      const value = values[section]?.[key];
      const source = loaded.sources[`${section}.${key}`];
      if (!keySpec.variable || value === undefined || !source || source.from === 'default') continue;
      if (source.from === 'env' && source.variable === keySpec.variable) continue;
      variables[keySpec.variable] = Array.isArray(value) ? value.join(',') : String(value);
    }
  }
  return variables;
}

export interface EnvironmentChange {
  /** Variables set from the configuration. */
  readonly set: readonly string[];
  /** Variables already set (not empty) in the environment, which therefore win over the configuration. */
  readonly kept: readonly string[];
}

/** Sets each variable the configuration stands for where `env` has none (unset or empty). */
export function applyEnvironmentDefaults(loaded: LoadedConfig, env: NodeJS.ProcessEnv): EnvironmentChange {
  const set: string[] = [];
  const kept: string[] = [];
  for (const [variable, value] of Object.entries(environmentFromConfig(loaded))) {
    const current = env[variable];
    if (current === undefined || current === '') {
      env[variable] = value;
      set.push(variable);
    } else if (current !== value) {
      kept.push(variable);
    }
  }
  return { set, kept };
}
