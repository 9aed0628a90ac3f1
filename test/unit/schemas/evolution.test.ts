import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { checkSchemas } from '../../../schemas/check.js';
import { codecFor } from '../../../schemas/codec.js';
import { ReleaseRefusedError } from '../../../schemas/errors.js';
import { goldenFiles, goldenProblems } from '../../../schemas/golden.js';
import { loadRegistry, schemaRegistry } from '../../../schemas/registry.js';
import { releaseSchema } from '../../../schemas/release.js';
import { schemaNames } from '../../../schemas/types.js';
import { TempSchemas } from './support.js';

describe('Schemas > evolution', () => {
  const registry = schemaRegistry();

  describe('golden payloads', () => {
    it('every released version has one, and it decodes with the current reader', () => {
      for (const name of schemaNames) {
        const entry = registry.entry(name);
        assert.ok(entry.history.length > 0, `${name} has a released version`);
        for (const version of entry.history) assert.deepEqual(goldenProblems(registry, version), [], `${name} v${version.version}`);
      }
    });

    it('RawFlow v1 data reads with the v2 reader: written fields intact, new fields at their defaults', () => {
      const v1 = registry.entry('RawFlow').history[0]!;
      assert.equal(registry.entry('RawFlow').current.version, 2);
      const decoded = codecFor('RawFlow').decode(readFileSync(goldenFiles(registry.dir, v1).bin));
      assert.equal(decoded.dest_name_aggr, 'backend-6b9c8d7f5-*');
      assert.equal(decoded.num_flows_completed, 61);
      assert.equal(decoded.process_name, null);
      assert.deepEqual(decoded.process_args, []);
      assert.equal(decoded.tcp_total_retransmissions, null);
    });
  });

  it('`schemas check` passes on this checkout', () => {
    const failed = checkSchemas(registry).filter((line) => !line.ok);
    assert.deepEqual(failed, []);
  });

  describe('release', () => {
    const temp = new TempSchemas();
    const live = registry.entry('Alert').current.version;
    after(() => temp.remove());

    it('refuses when the live schema is already released', () => {
      assert.throws(() => releaseSchema(temp.dir, 'Alert'), ReleaseRefusedError);
    });

    it('refuses an incompatible change, naming the field', () => {
      temp.edit('avro/alert.avsc', (schema) => schema.fields.push({ name: 'team', type: 'string' }));
      assert.throws(() => releaseSchema(temp.dir, 'Alert'), new RegExp(`cannot release Alert: v1: field 'team' \\(string\\) was added without a default`));
      const lines = checkSchemas(loadRegistry(temp.dir)).filter((line) => !line.ok);
      assert.deepEqual(
        lines.map((line) => line.text),
        [
          ...Array.from(
            { length: live },
            (_, index) => `FAIL  Alert v${index + 1}: current v${live + 1} cannot read v${index + 1} data: field 'team' (string) was added without a default`,
          ),
          `FAIL  Alert: ${temp.dir}/avro/alert.avsc is not released (it differs from v${live}); run 'flowsentry schemas release Alert'`,
        ],
      );
    });

    it('releases a compatible change as the next version, with a golden payload the check then verifies', () => {
      temp.edit('avro/alert.avsc', (schema) => {
        schema.fields = schema.fields.filter((field) => field.name !== 'team');
        schema.fields.push({ name: 'team', type: ['null', 'string'], default: null });
      });
      const released = releaseSchema(temp.dir, 'Alert');
      assert.equal(released.version.version, live + 1);
      for (const file of released.files) assert.ok(existsSync(file), file);
      const reloaded = loadRegistry(temp.dir);
      assert.equal(reloaded.entry('Alert').current.released, true);
      assert.deepEqual(checkSchemas(reloaded).filter((line) => !line.ok), []);
    });

    it('catches a released version edited after the fact', () => {
      temp.edit('history/DeadLetter/v2.avsc', (schema) => schema.fields.push({ name: 'note', type: ['null', 'string'], default: null }));
      const failed = checkSchemas(loadRegistry(temp.dir)).filter((line) => !line.ok);
      assert.equal(failed.length, 2);
      assert.match(failed[0]?.text ?? '', /^FAIL {2}DeadLetter v2: .*golden payload was written with fingerprint 5eede8006ab0416a, .*released history must not change/);
      assert.match(failed[1]?.text ?? '', /DeadLetter: .* is not released \(it differs from v2\)/);
    });
  });
});
