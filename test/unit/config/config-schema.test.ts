import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CliCommand } from '../../../cli/command.js';
import { commands } from '../../../cli/commands.js';
import { detectorNames } from '../../../detect/detection.js';
import { watchedKinds } from '../../../enrich/inventory/inventory-api.js';
import { sourceTypes } from '../../../ingest/source-registry.js';
import { configEnvAllowList, configSchema, envPrefix, envVariableOf } from '../../../runtime/config/config-schema.js';
import type { KeySpec, SectionSpec } from '../../../runtime/config/schema-types.js';
import { checkValue } from '../../../runtime/config/value-types.js';
import { flowLineFormats } from '../../../sink/cloudwatch/flow-lines.js';
import { logNamingPresets } from '../../../sink/cloudwatch/log-names.js';
import { sinkRecordKinds } from '../../../sink/outlet.js';

const sections = configSchema as Readonly<Record<string, SectionSpec>>;
const stageSections = Object.entries(sections).filter(([, section]) => section.kind === 'stage');

function enumOf(section: string, key: string): readonly string[] {
  const type = sections[section]!.keys[key]!.type;
  const words = type.kind === 'list' ? (type.item.kind === 'enum' ? type.item.values : undefined) : type.kind === 'enum' ? type.values : undefined;
  assert.ok(words, `${section}.${key} is an enum`);
  return words;
}

describe('Runtime > config > schema', () => {
  it('has a section per stage command whose keys are exactly its long options', () => {
    assert.deepEqual(stageSections.map(([name]) => name).sort(), ['collect', 'detect', 'enrich', 'inventory', 'respond', 'sink']);
    for (const [name, section] of stageSections) {
      const options = commands.find((command) => command.name === name)?.options;
      assert.ok(options, `flowsentry ${name} declares its options`);
      assert.deepEqual(Object.keys(section.keys).sort(), Object.keys(options).sort(), `section ${name}`);
      for (const [key, spec] of Object.entries(section.keys)) {
        const option: NonNullable<CliCommand['options']>[string] = options[key]!;
        const repeated = spec.type.kind === 'list' && !spec.type.joined;
        assert.equal(option.multiple === true, repeated, `${name}.${key}: a list exactly when --${key} repeats`);
        assert.equal(option.type === 'boolean', spec.type.kind === 'boolean', `${name}.${key}: a boolean exactly when --${key} is a flag`);
      }
    }
  });

  it('knows the same words as the code it configures', () => {
    assert.deepEqual(enumOf('collect', 'source'), Object.keys(sourceTypes));
    assert.deepEqual(enumOf('inventory', 'kinds'), watchedKinds);
    assert.deepEqual(enumOf('detect', 'detectors'), detectorNames);
    assert.deepEqual(enumOf('sink', 'cloudwatch-naming'), Object.keys(logNamingPresets));
    assert.deepEqual(enumOf('sink', 'cloudwatch-format'), flowLineFormats);
    assert.deepEqual(enumOf('sink', 'kinds'), sinkRecordKinds.map((kind) => `${kind}s`));
    assert.deepEqual([...enumOf('run', 'stages')].sort(), stageSections.map(([name]) => name).sort());
  });

  it('gives every key a description and an example of its own type, and a default of its type where there is one', () => {
    for (const [name, section] of Object.entries(sections)) {
      assert.ok(section.description.length > 0, name);
      for (const [key, spec] of Object.entries(section.keys) as [string, KeySpec][]) {
        assert.ok(spec.description.length > 0, `${name}.${key}: description`);
        assert.deepEqual(checkValue(spec.type, spec.example).problems, [], `${name}.${key}: example`);
        if (spec.default !== undefined) assert.deepEqual(checkValue(spec.type, spec.default).problems, [], `${name}.${key}: default`);
      }
    }
    assert.equal(sections.store!.keys.path!.default, '.flowsentry/store.db');
    assert.equal(sections.server!.keys.port!.default, 9464);
  });

  it('maps each key to its own FLOWSENTRY_ variable, none of them allow-listed', () => {
    const variables = Object.entries(sections).flatMap(([name, section]) => Object.keys(section.keys).map((key) => envVariableOf(name, key)));
    assert.equal(new Set(variables).size, variables.length);
    assert.ok(variables.every((variable) => variable.startsWith(envPrefix) && /^[A-Z0-9_]+$/.test(variable)));
    assert.ok(configEnvAllowList.every((variable) => !variables.includes(variable)));
    assert.equal(envVariableOf('enrich', 'cluster-cidr'), 'FLOWSENTRY_ENRICH_CLUSTER_CIDR');
    assert.equal(envVariableOf('store', 'path'), sections.store!.keys.path!.variable);
  });
});
