import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSchema } from '../../../schemas/avro-type.js';
import { codecFor } from '../../../schemas/codec.js';
import { InvalidRecordError } from '../../../schemas/errors.js';
import { avroFromJson, avroToJson, fromJson, toJson } from '../../../schemas/json.js';
import { samples } from '../../../schemas/samples.js';
import { schemaNames } from '../../../schemas/types.js';

describe('Schemas > json', () => {
  it('round-trips every sample through JSON text', () => {
    for (const name of schemaNames) {
      const text = JSON.stringify(toJson(name, samples[name] as never));
      assert.deepEqual(fromJson(name, JSON.parse(text)), samples[name], name);
    }
  });

  it('keeps the Avro field names and plain values, and writes bytes as base64', () => {
    const json = toJson('DeadLetter', samples.DeadLetter);
    assert.equal(json.original, samples.DeadLetter.original.toString('base64'));
    assert.deepEqual(json.source, { topic: null, partition: null, offset: null, position: null, file: 'calico-cloudwatch-flowlogs.txt', line: 3 });
    const flow = toJson('EnrichedFlow', samples.EnrichedFlow);
    assert.equal(flow.start_time, 1530810851000);
    assert.equal(flow.source_type, 'wep');
    assert.deepEqual(flow.dest_labels, { role: 'backend' });
  });

  it('is the same JSON whether from a record built here or one decoded off the wire', () => {
    const codec = codecFor('RawFlow');
    const decoded = codec.decode(codec.encode(samples.RawFlow));
    assert.deepEqual(toJson('RawFlow', decoded), toJson('RawFlow', samples.RawFlow));
  });

  it('writes every field, defaults included, and fills absent optional fields when reading', () => {
    const minimal = {
      type: 'DELETED',
      kind: 'Pod',
      uid: 'u-1',
      name: 'backend-6b9c8d7f5-7qp4z',
      observed_time: 1530811157000,
    } as const;
    const json = toJson('InventoryEvent', minimal);
    assert.equal(json.namespace, null);
    assert.deepEqual(json.owners, []);
    assert.equal(json.host_network, false);
    assert.deepEqual(fromJson('InventoryEvent', minimal), fromJson('InventoryEvent', json));
  });

  it('reports every problem of a JSON document at once, with its path', () => {
    const json = {
      ...toJson('InventoryEvent', samples.InventoryEvent),
      type: 'CHANGED',
      owners: [{ kind: 'ReplicaSet', name: 'rs', uid: 7 }],
      colour: 'blue',
    } as Record<string, unknown>;
    delete json.uid;
    assert.throws(
      () => fromJson('InventoryEvent', json),
      (error: unknown) =>
        error instanceof InvalidRecordError &&
        error.problems.includes('colour: unknown field') &&
        error.problems.includes('type: expected one of ADDED|MODIFIED|DELETED, got "CHANGED"') &&
        error.problems.includes('uid: missing (no default)') &&
        error.problems.includes('owners[0].uid: expected a string, got 7'),
    );
  });

  it('rejects what is not base64 and integers beyond 2^53', () => {
    const json = toJson('DeadLetter', samples.DeadLetter);
    assert.throws(() => fromJson('DeadLetter', { ...json, original: 'not base64!' }), /original: expected base64 bytes/);
    assert.throws(() => fromJson('DeadLetter', { ...json, failed_at: 2 ** 53 + 2 }), /failed_at: expected an integer \(long\)/);
  });

  it('refuses to turn an invalid record into JSON', () => {
    assert.throws(() => toJson('Alert', { ...samples.Alert, severity: 'urgent' as never }), /severity/);
  });

  it('writes NaN and infinities of doubles as strings and reads them back', () => {
    const type = parseSchema({ type: 'record', name: 'Stats', fields: [{ name: 'mean', type: ['null', 'double'] }, { name: 'max', type: 'float' }] });
    const json = avroToJson(type, { mean: NaN, max: -Infinity });
    assert.deepEqual(json, { mean: 'NaN', max: '-Infinity' });
    assert.deepEqual(avroFromJson(type, JSON.parse(JSON.stringify(json))), { mean: NaN, max: -Infinity });
  });
});
