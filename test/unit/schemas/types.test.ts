import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { types } from 'avsc';
import { schemaRegistry } from '../../../schemas/registry.js';
import { samples } from '../../../schemas/samples.js';
import { schemaNames } from '../../../schemas/types.js';

/**
 * samples.ts types each sample as the TypeScript interface with every field required, so the
 * compiler keeps sample and interface in step; these tests keep sample and schema in step.
 */
describe('Schemas > types', () => {
  const registry = schemaRegistry();

  it('a full sample of each interface is valid for its schema, with no field the schema lacks', () => {
    for (const name of schemaNames) {
      const problems: string[] = [];
      const valid = registry.entry(name).current.type.isValid(samples[name], {
        noUndeclaredFields: true,
        errorHook: (path) => problems.push(path.join('.')),
      });
      assert.ok(valid, `${name}: ${problems.join(', ')}`);
    }
  });

  it('each interface has every field of its schema', () => {
    for (const name of schemaNames) {
      const fields = (registry.entry(name).current.type as types.RecordType).fields.map((field) => field.name);
      assert.deepEqual(Object.keys(samples[name]).sort(), [...fields].sort(), name);
    }
  });

  it('the fields an interface marks optional are exactly those with a default', () => {
    for (const name of schemaNames) {
      const type = registry.entry(name).current.type as types.RecordType;
      const required = type.fields.filter((field) => field.defaultValue() === undefined).map((field) => field.name);
      const minimal = Object.fromEntries(required.map((field) => [field, (samples[name] as Record<string, unknown>)[field]]));
      assert.ok(type.isValid(minimal), `${name} with only ${required.join(', ')}`);
    }
  });
});
