/** The resolved configuration as YAML (`flowsentry config check`): secrets redacted, each value's origin as a comment. */
import { Document, isNode, isSeq } from 'yaml';
import { configSchema } from './config-schema.js';
import type { LoadedConfig } from './load-config.js';
import type { ConfigValue, KeySpec } from './schema-types.js';

export const redacted = '<redacted>';

const sections = configSchema as Readonly<Record<string, { readonly keys: Readonly<Record<string, KeySpec>> }>>;

/**
 * Every section with a value, in schema order; `password` and `token` as `<redacted>`. A value from
 * a variable says which, a default says so. `kept` names environment variables that were already
 * set and therefore win over the configured value; each is noted at the top.
 */
export function resolvedConfigYaml(loaded: LoadedConfig, kept: readonly string[] = []): string {
  const values = loaded.config as unknown as Readonly<Record<string, Readonly<Record<string, ConfigValue>>>>;
  const out: Record<string, Record<string, ConfigValue>> = {};
  for (const [section, spec] of Object.entries(sections)) {
    const entries = Object.entries(values[section] ?? {}).map(([key, value]) => [key, spec.keys[key]?.secret ? redacted : value] as const);
    if (entries.length > 0) out[section] = Object.fromEntries(entries);
  }
  const doc = new Document(out);
  for (const [section, body] of Object.entries(out)) {
    for (const key of Object.keys(body)) {
      const node = doc.getIn([section, key], true);
      if (!isNode(node)) continue;
      if (isSeq(node)) node.flow = true;
      const source = loaded.sources[`${section}.${key}`];
      if (source?.from === 'env') node.comment = ` ${source.variable}`;
      else if (source?.from === 'default') node.comment = ' default';
    }
  }
  const keyOfVariable = (name: string) =>
    Object.entries(sections).flatMap(([section, spec]) => Object.entries(spec.keys).filter(([, key]) => key.variable === name).map(([key]) => `${section}.${key}`))[0];
  const notes = kept.map((name) => ` ${name} is set in the environment and wins over ${keyOfVariable(name) ?? 'the configuration'}`);
  const header = [` ${loaded.file ?? '(no file)'} with FLOWSENTRY_* variables and defaults; secrets redacted`, ...notes];
  doc.commentBefore = header.join('\n');
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
