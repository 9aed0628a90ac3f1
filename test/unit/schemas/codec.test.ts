import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSchema } from '../../../schemas/avro-type.js';
import { codecFor, decodeMessage, HEADER_SIZE, MAGIC } from '../../../schemas/codec.js';
import {
  BadMagicError,
  CorruptPayloadError,
  InvalidRecordError,
  UnexpectedSchemaError,
  UnknownFingerprintError,
} from '../../../schemas/errors.js';
import { fingerprintBytes, fingerprintHex } from '../../../schemas/fingerprint.js';
import { schemaRegistry } from '../../../schemas/registry.js';
import { samples } from '../../../schemas/samples.js';
import type { RawFlow } from '../../../schemas/types.js';
import { schemaNames } from '../../../schemas/types.js';
import { fixture } from './support.js';

const rawFlows = codecFor('RawFlow');

/** The required fields only: what a conntrack collector knows. */
const minimalRawFlow: RawFlow = {
  start_time: 1530810851000,
  end_time: 1530811157000,
  origin: 'conntrack',
  host: 'ip-10-0-1-23.ec2.internal',
  proto: 17,
  reporter: 'src',
  action: 'allow',
  bytes_in: 11109,
  bytes_out: 6706,
  packets_in: 70,
  packets_out: 70,
  num_flows: 70,
  num_flows_started: 70,
  num_flows_completed: 60,
};

describe('Schemas > codec', () => {
  describe('single records', () => {
    it('round-trips a full sample of every record type into plain objects', () => {
      for (const name of schemaNames) {
        const codec = codecFor(name);
        const decoded = codec.decode(codec.encode(samples[name] as never));
        assert.deepEqual(decoded, samples[name], name);
        assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
      }
    });

    it('writes C3 01, the current fingerprint little-endian, then the body', () => {
      const message = rawFlows.encode(samples.RawFlow);
      const current = schemaRegistry().entry('RawFlow').current;
      assert.deepEqual(message.subarray(0, 2), MAGIC);
      assert.deepEqual(message.subarray(2, HEADER_SIZE), fingerprintBytes(current.fingerprint));
      assert.deepEqual(message.subarray(HEADER_SIZE), current.type.toBuffer(samples.RawFlow));
    });

    it('fills fields left out with their defaults', () => {
      const decoded = rawFlows.decode(rawFlows.encode(minimalRawFlow));
      assert.equal(decoded.source_ip, null);
      assert.deepEqual(decoded.policies, []);
      assert.equal(decoded.tcp_lost_packets, null);
      assert.deepEqual(decoded.process_args, []);
    });

    it('accepts a Uint8Array that is not a Buffer', () => {
      const message = new Uint8Array(rawFlows.encode(samples.RawFlow));
      assert.deepEqual(rawFlows.decode(message), samples.RawFlow);
    });

    it('names every invalid field of a record it cannot encode', () => {
      const bad = { ...minimalRawFlow, proto: 'tcp', reporter: 'out' } as unknown as RawFlow;
      assert.throws(
        () => rawFlows.encode(bad),
        (error: unknown) => error instanceof InvalidRecordError && error.problems.length === 2 && /proto/.test(error.message) && /reporter/.test(error.message),
      );
    });

    it('refuses a long beyond 2^53 instead of losing precision', () => {
      assert.throws(() => rawFlows.encode({ ...minimalRawFlow, bytes_in: 2 ** 53 + 2 }), InvalidRecordError);
    });
  });

  describe('batches', () => {
    it('round-trips a batch under its own fingerprint', () => {
      const records = [samples.RawFlow, minimalRawFlow, samples.RawFlow];
      const message = rawFlows.encodeBatch(records);
      const current = schemaRegistry().entry('RawFlow').current;
      assert.deepEqual(message.subarray(2, HEADER_SIZE), fingerprintBytes(current.batchFingerprint));
      const decoded = rawFlows.decodeBatch(message);
      assert.equal(decoded.length, 3);
      assert.deepEqual(decoded[0], samples.RawFlow);
      assert.equal(decoded[1]?.process_name, null);
    });

    it('reads an empty batch', () => {
      assert.deepEqual(rawFlows.decodeBatch(rawFlows.encodeBatch([])), []);
    });

    it('decodeAll takes either form; decode and decodeBatch insist on theirs', () => {
      const single = rawFlows.encode(samples.RawFlow);
      const batch = rawFlows.encodeBatch([samples.RawFlow]);
      assert.deepEqual(rawFlows.decodeAll(single), [samples.RawFlow]);
      assert.deepEqual(rawFlows.decodeAll(batch), [samples.RawFlow]);
      assert.throws(() => rawFlows.decode(batch), /expected RawFlow but the message was written as RawFlow v2 batch/);
      assert.throws(() => rawFlows.decodeBatch(single), UnexpectedSchemaError);
    });
  });

  describe('writer versions', () => {
    const v1 = schemaRegistry().entry('RawFlow').history[0]!;

    it('resolves a v1 record to the current reader, with defaults for the v2 fields', () => {
      const message = Buffer.concat([MAGIC, fingerprintBytes(v1.fingerprint), v1.type.toBuffer(samples.RawFlow)]);
      const decoded = rawFlows.decode(message);
      assert.equal(decoded.source_name_aggr, samples.RawFlow.source_name_aggr);
      assert.equal(decoded.process_name, null);
      assert.equal(decoded.tcp_mean_smooth_rtt, null);
    });

    it('resolves a v1 batch', () => {
      const body = v1.batchType.toBuffer([minimalRawFlow, samples.RawFlow]);
      const decoded = rawFlows.decodeBatch(Buffer.concat([MAGIC, fingerprintBytes(v1.batchFingerprint), body]));
      assert.deepEqual(decoded.map((flow) => flow.origin), ['conntrack', 'calico']);
      assert.deepEqual(decoded[1]?.process_args, []);
    });

    it('says which record type a message holds when it is not the expected one', () => {
      const alert = codecFor('Alert').encode(samples.Alert);
      assert.throws(
        () => rawFlows.decode(alert),
        (error: unknown) => error instanceof UnexpectedSchemaError && error.expected === 'RawFlow' && error.found === `Alert v${schemaRegistry().entry('Alert').current.version}`,
      );
    });

    it('decodes a message of any type with decodeMessage', () => {
      const decoded = decodeMessage(codecFor('Alert').encodeBatch([samples.Alert, samples.Alert]));
      assert.equal(decoded.name, 'Alert');
      assert.equal(decoded.records.length, 2);
    });
  });

  describe('bad messages', () => {
    it('rejects a message without the marker (fixture bad-magic.bin)', () => {
      assert.throws(
        () => rawFlows.decode(fixture('bad-magic.bin')),
        (error: unknown) => error instanceof BadMagicError && error.code === 'SCHEMA_BAD_MAGIC' && error.found === '7b22' && !error.retriable,
      );
      assert.throws(() => rawFlows.decode(Buffer.alloc(0)), BadMagicError);
      assert.throws(() => decodeMessage(Buffer.from([0xc3])), BadMagicError);
    });

    it('rejects an unknown writer fingerprint (fixture unknown-fingerprint.bin)', () => {
      const message = fixture('unknown-fingerprint.bin');
      const expected = fingerprintHex(message.readBigUInt64LE(2));
      for (const decode of [() => rawFlows.decode(message), () => decodeMessage(message)]) {
        assert.throws(
          decode,
          (error: unknown) =>
            error instanceof UnknownFingerprintError && error.code === 'SCHEMA_UNKNOWN_FINGERPRINT' && error.fingerprint === expected && !error.retriable,
        );
      }
    });

    it('rejects a truncated body with the offset where it ran out (fixture corrupt-body.bin)', () => {
      const message = fixture('corrupt-body.bin');
      assert.throws(
        () => rawFlows.decode(message),
        (error: unknown) =>
          error instanceof CorruptPayloadError &&
          error.code === 'SCHEMA_CORRUPT_PAYLOAD' &&
          error.writer === 'RawFlow v1' &&
          error.offset === message.length &&
          !error.retriable,
      );
    });

    it('rejects an absurd array count at once (fixture corrupt-count.bin)', () => {
      const started = process.hrtime.bigint();
      assert.throws(
        () => rawFlows.decodeBatch(fixture('corrupt-count.bin')),
        (error: unknown) => error instanceof CorruptPayloadError && error.offset === HEADER_SIZE && /array count 268435456/.test(error.message),
      );
      assert.ok(process.hrtime.bigint() - started < 1_000_000_000n);
    });

    it('rejects trailing bytes, a truncated header, a bad enum index and a bad boolean', () => {
      const message = rawFlows.encode(minimalRawFlow);
      assert.throws(() => rawFlows.decode(Buffer.concat([message, Buffer.from([0])])), /1 trailing bytes after the value/);
      assert.throws(() => rawFlows.decode(message.subarray(0, 6)), CorruptPayloadError);
      const responses = codecFor('ResponseAction');
      const action = responses.encode({ ...samples.ResponseAction, alert_id: null });
      const kindOffset = HEADER_SIZE + 1 + samples.ResponseAction.action_id.length + 1; // id string, then null branch
      assert.equal(action[kindOffset], 0); // quarantine
      action[kindOffset] = 2 * 7; // enum index 7 of 3 symbols
      assert.throws(() => responses.decode(action), /enum index 7 out of range 0\.\.2/);
      const flags = codecFor('DeadLetter').encode(samples.DeadLetter);
      const retriableOffset = HEADER_SIZE + 1 + samples.DeadLetter.reason.length + 1 + samples.DeadLetter.message.length;
      flags[retriableOffset] = 7;
      assert.throws(() => codecFor('DeadLetter').decode(flags), /boolean byte is neither 0 nor 1/);
    });
  });

  it('resolved records are plain objects too, nested ones included', () => {
    const schema = structuredClone(schemaRegistry().entry('InventoryEvent').current.schema) as { fields: { name: string }[] };
    const writer = parseSchema({ ...schema, fields: schema.fields.filter((field) => field.name !== 'resource_version') });
    const reader = schemaRegistry().entry('InventoryEvent').current.type;
    const decoded = reader.fromBuffer(writer.toBuffer(samples.InventoryEvent), reader.createResolver(writer)) as typeof samples.InventoryEvent;
    assert.deepEqual(decoded, { ...samples.InventoryEvent, resource_version: null });
    assert.equal(Object.getPrototypeOf(decoded.owners[0]), Object.prototype);
  });

  it('reads what a schema parsed elsewhere writes with the same canonical form', () => {
    const current = schemaRegistry().entry('EnrichedFlow').current;
    const independent = parseSchema(JSON.parse(JSON.stringify(current.schema)));
    const message = Buffer.concat([MAGIC, fingerprintBytes(current.fingerprint), independent.toBuffer(samples.EnrichedFlow)]);
    assert.deepEqual(codecFor('EnrichedFlow').decode(message), samples.EnrichedFlow);
  });
});
