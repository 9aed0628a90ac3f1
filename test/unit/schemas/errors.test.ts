import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as errors from '../../../schemas/errors.js';
import { defaultSchemasDir } from '../../../schemas/registry.js';

describe('Schemas > errors', () => {
  const readme = readFileSync(join(defaultSchemasDir, 'README.md'), 'utf8');
  const classes = Object.values(errors as Record<string, unknown>).filter(
    (value) => typeof value === 'function' && value.prototype instanceof errors.SchemaError,
  );

  it('every code is documented in schemas/README.md', () => {
    for (const code of Object.keys(errors.schemaErrorCodes)) assert.match(readme, new RegExp(`\`${code}\``), code);
  });

  it('every error class has its own code from the registry, and none is retriable', () => {
    const samples: errors.SchemaError[] = [
      new errors.BadMagicError('7b22'),
      new errors.UnknownFingerprintError('0011223344556677', 'RawFlow'),
      new errors.UnexpectedSchemaError('0011223344556677', 'RawFlow', 'Alert v1'),
      new errors.CorruptPayloadError('RawFlow v1', '0011223344556677', 42, 'varint runs past the end'),
      new errors.InvalidRecordError('RawFlow', ['proto: "tcp" is not a valid int']),
      new errors.IncompatibleSchemaError('RawFlow', 1, ["field 'x' (string) was added without a default"]),
      new errors.SchemaLoadError('schemas/avro/raw-flow.avsc', 'Unexpected token'),
      new errors.ReleaseRefusedError('RawFlow', 'nothing changed'),
    ];
    assert.equal(samples.length, classes.length);
    assert.deepEqual(new Set(samples.map((error) => error.code)), new Set(Object.keys(errors.schemaErrorCodes)));
    for (const error of samples) {
      assert.equal(error.retriable, false);
      assert.equal(error.name, error.constructor.name);
    }
  });
});
