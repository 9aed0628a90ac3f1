import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { configReference } from '../../../runtime/config/config-reference.js';
import { configSchema, envVariableOf } from '../../../runtime/config/config-schema.js';

const docsFile = new URL('../../../docs/configuration.md', import.meta.url);
const exampleFile = new URL('../../../flowsentry.example.yaml', import.meta.url);

describe('Runtime > config > reference and example', () => {
  it('docs/configuration.md is the reference the schema generates', () => {
    assert.equal(
      readFileSync(docsFile, 'utf8'),
      configReference(),
      'docs/configuration.md is out of date with runtime/config/config-schema.ts: regenerate it with `node bin/flowsentry.js config reference > docs/configuration.md`',
    );
  });

  it('documents every section and key with its variable', () => {
    const reference = configReference();
    for (const [section, spec] of Object.entries(configSchema)) {
      assert.ok(reference.includes(`## \`${section}\``), section);
      for (const key of Object.keys(spec.keys)) assert.ok(reference.includes(`| \`${key}\` |`) && reference.includes(envVariableOf(section, key)), `${section}.${key}`);
    }
  });

  it('the example configures every section', () => {
    const example = parse(readFileSync(exampleFile, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(example).sort(), Object.keys(configSchema).sort());
  });
});
