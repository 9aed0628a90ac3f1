/** The configuration reference in Markdown (docs/configuration.md, `flowsentry config reference`), from the schema alone. */
import { Document, isSeq } from 'yaml';
import { configEnvAllowList, configSchema, envVariableOf } from './config-schema.js';
import type { SectionSpec } from './schema-types.js';
import { describeType } from './value-types.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text}\``;

function yamlOf(value: unknown): string {
  const doc = new Document(value);
  const flow = (node: unknown): void => {
    if (isSeq(node)) node.flow = true;
    else if (node && typeof node === 'object' && 'items' in node) for (const item of (node as { items: { value?: unknown }[] }).items) flow(item.value);
  };
  flow(doc.contents);
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd();
}

function sectionReference(name: string, section: SectionSpec): string {
  const rows = Object.entries(section.keys).map(([key, spec]) => {
    const variable = code(envVariableOf(name, key)) + (spec.variable && spec.variable !== envVariableOf(name, key) ? ` (sets ${code(spec.variable)})` : '');
    const fallback = spec.default === undefined ? '' : code(Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default));
    const description = spec.description + (spec.secret ? ' (redacted when printed)' : '');
    return `| ${code(key)} | ${cell(describeType(spec.type))} | ${fallback} | ${variable} | ${cell(description)} |`;
  });
  const example = yamlOf({ [name]: Object.fromEntries(Object.entries(section.keys).map(([key, spec]) => [key, spec.example])) });
  return [
    `## ${code(name)}`,
    '',
    section.description,
    '',
    '| key | type | default | environment | description |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Every key, each with an example value:',
    '',
    '```yaml',
    example,
    '```',
  ].join('\n');
}

/** The whole reference. */
export function configReference(): string {
  const all = Object.entries(configSchema as Readonly<Record<string, SectionSpec>>);
  const list = (kind: SectionSpec['kind']) =>
    all
      .filter(([, section]) => section.kind === kind)
      .map(([name]) => `[${code(name)}](#${name})`)
      .join(', ');
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from runtime/config/config-schema.ts: node bin/flowsentry.js config reference > docs/configuration.md -->',
    '',
    'flowsentry reads one YAML file, named by `--config FILE` (every command takes it) or the',
    '`FLOWSENTRY_CONFIG` variable; without one it runs on the environment and the defaults. The',
    'file is validated when a command starts: an unknown section or key, a value of the wrong type',
    'or an unknown `FLOWSENTRY_…` variable stops it with exit code 2, every problem listed with its',
    'path. `flowsentry config check --config FILE` checks a file and prints the result;',
    '`flowsentry config example` prints a commented example (`flowsentry.example.yaml`).',
    '',
    'Where a value comes from, first match wins:',
    '',
    '1. the command-line option (stage sections: the key is the option of the same name);',
    '2. the variable `FLOWSENTRY_<SECTION>_<KEY>`: upper case, `-` as `_` (`FLOWSENTRY_ENRICH_CLUSTER_CIDR`),',
    "   parsed by the key's type: lists comma-separated (`a:9092,b:9092`; `;` where a key says so),",
    '   booleans `true`/`false` (or `1`/`0`, `yes`/`no`); an empty variable counts as unset;',
    '3. the file (a key with no value counts as unset);',
    '4. the default.',
    '',
    'A global key with a variable of its own (`kafka.brokers` and `KAFKA_BROKERS`) sets that variable',
    'when it is unset, which is where the code reads it; a variable already set wins over the file.',
    `Variables that are not configuration and are never called unknown: ${configEnvAllowList.map(code).join(', ')}.`,
    '',
    `Global sections: ${list('global')}.`,
    '',
    `Stage sections, one per command: ${list('stage')}.`,
    "A stage applies its own defaults (the descriptions say them) to the keys that are not set.",
    '',
    ...all.map(([name, section]) => `${sectionReference(name, section)}\n`),
  ].join('\n');
}
