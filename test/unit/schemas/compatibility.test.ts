import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSchema } from '../../../schemas/avro-type.js';
import { checkBackwardTransitive, readProblems } from '../../../schemas/compatibility.js';
import { schemaRegistry } from '../../../schemas/registry.js';
import { schemaNames } from '../../../schemas/types.js';

interface RecordSchema {
  fields: { name: string; type: unknown; default?: unknown }[];
  [key: string]: unknown;
}

const registry = schemaRegistry();

/** The current schema of `name`, changed in memory. */
function changed(name: 'RawFlow' | 'InventoryEvent' | 'ResponseAction', change: (schema: RecordSchema) => void) {
  const schema = structuredClone(registry.entry(name).current.schema) as RecordSchema;
  change(schema);
  return parseSchema(schema);
}

function field(schema: RecordSchema, name: string) {
  const found = schema.fields.find((candidate) => candidate.name === name);
  assert.ok(found, name);
  return found;
}

function problemsAgainstHistory(name: 'RawFlow' | 'InventoryEvent' | 'ResponseAction', change: (schema: RecordSchema) => void): string[] {
  return checkBackwardTransitive(registry.entry(name), changed(name, change)).flatMap((check) =>
    check.problems.map((problem) => `v${check.version}: ${problem}`),
  );
}

describe('Schemas > compatibility', () => {
  it('the current version of every schema reads every released version', () => {
    for (const name of schemaNames) {
      for (const check of checkBackwardTransitive(registry.entry(name))) assert.deepEqual(check.problems, [], `${name} v${check.version}`);
    }
  });

  describe('rejects', () => {
    it('a new field without a default, naming it and every version it breaks', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => schema.fields.push({ name: 'direction', type: 'string' }));
      assert.deepEqual(problems, [
        "v1: field 'direction' (string) was added without a default",
        "v2: field 'direction' (string) was added without a default",
      ]);
    });

    it('a changed field type', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => {
        field(schema, 'proto').type = 'string';
      });
      assert.deepEqual(problems, ["v1: field 'proto' type changed from int to string", "v2: field 'proto' type changed from int to string"]);
    });

    it('a removed enum symbol', () => {
      const problems = problemsAgainstHistory('ResponseAction', (schema) => {
        (field(schema, 'status').type as { symbols: string[] }).symbols = ['requested', 'applied', 'failed'];
      });
      assert.deepEqual(problems, ["v1: field 'status' lost enum symbol(s) skipped, expired, undone (and the enum has no default)"]);
    });

    it('a nullable field made required', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => {
        const sourceIp = field(schema, 'source_ip');
        sourceIp.type = 'string';
        delete sourceIp.default;
      });
      assert.match(problems[0] ?? '', /^v1: field 'source_ip' changed from \[null, string\] to string: null values can no longer be read$/);
    });

    it('a field added without a default inside a nested record', () => {
      const problems = problemsAgainstHistory('InventoryEvent', (schema) => {
        const owners = field(schema, 'owners').type as { items: RecordSchema };
        owners.items.fields.push({ name: 'api_version', type: 'string' });
      });
      assert.deepEqual(problems, [
        "v1: field 'owners[].api_version' (string) was added without a default",
        "v2: field 'owners[].api_version' (string) was added without a default",
      ]);
    });

    it('a narrowed numeric type', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => {
        field(schema, 'bytes_in').type = 'int';
      });
      assert.match(problems[0] ?? '', /field 'bytes_in' type changed from long to int/);
    });

    it('a renamed record', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => {
        schema.name = 'Flow';
      });
      assert.match(problems[0] ?? '', /record renamed from io\.flowsentry\.v1\.RawFlow to io\.flowsentry\.v1\.Flow/);
    });
  });

  describe('accepts', () => {
    it('a new optional field, a new enum symbol, int promoted to long, a removed field', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => {
        schema.fields.push({ name: 'direction', type: ['null', 'string'], default: null });
        (field(schema, 'origin').type as { symbols: string[] }).symbols.push('cilium');
        field(schema, 'source_port').type = ['null', 'long'];
        schema.fields = schema.fields.filter((candidate) => candidate.name !== 'tcp_unrecovered_to');
      });
      assert.deepEqual(problems, []);
    });

    it('a removed enum symbol when the enum has a default', () => {
      const problems = problemsAgainstHistory('ResponseAction', (schema) => {
        const status = field(schema, 'status').type as { symbols: string[]; default?: string };
        status.symbols = ['requested', 'applied', 'failed'];
        status.default = 'failed';
      });
      assert.deepEqual(problems, []);
    });

    it('a field renamed with an alias', () => {
      const problems = problemsAgainstHistory('RawFlow', (schema) => {
        Object.assign(field(schema, 'host'), { name: 'node', aliases: ['host'] });
      });
      assert.deepEqual(problems, []);
    });
  });

  it('agrees with avsc: whatever avsc cannot resolve is reported', () => {
    const writer = parseSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'fixed', name: 'F', size: 4 } }] });
    const reader = parseSchema({ type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'fixed', name: 'F', size: 8 } }] });
    assert.throws(() => reader.createResolver(writer));
    assert.deepEqual(readProblems(writer, reader), ["field 'a' fixed size changed"]);
  });
});
