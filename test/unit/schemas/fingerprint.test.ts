import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalForm, parseSchema } from '../../../schemas/avro-type.js';
import { crc64Avro, fingerprintBytes, fingerprintHex } from '../../../schemas/fingerprint.js';

/** Test vectors of the Avro specification (signed 64-bit values as the Java implementation prints them). */
const vectors: [string, bigint][] = [
  ['"null"', 7195948357588979594n],
  ['"boolean"', -6970731678124411036n],
  ['"int"', 8247732601305521295n],
  ['"long"', -3434872931120570953n],
  ['"string"', -8142146995180207161n],
  ['{"name":"foo","type":"fixed","size":15}', 1756455273707447556n],
  ['{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', 7843277075252814651n],
  ['["int","boolean"]', 5392556393470105090n],
];

describe('Schemas > fingerprint', () => {
  it('computes CRC-64-AVRO as the specification does', () => {
    for (const [canonical, signed] of vectors) {
      assert.equal(crc64Avro(canonical), BigInt.asUintN(64, signed), canonical);
    }
  });

  it('writes the fingerprint little-endian and prints it as 16 hex digits', () => {
    const fingerprint = crc64Avro('"null"');
    assert.equal(fingerprintHex(fingerprint), '63dd24e7cc258f8a');
    assert.equal(fingerprintBytes(fingerprint).toString('hex'), '8a8f25cce724dd63');
  });

  it('fingerprints the parsing canonical form, not the text', () => {
    const written = {
      type: 'record',
      namespace: 'io.example',
      name: 'Flow',
      doc: 'docs, defaults, aliases and logical types do not take part',
      aliases: ['OldFlow'],
      fields: [
        { name: 'start', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'ms' },
        { name: 'port', type: ['null', 'int'], default: null },
        { name: 'action', type: { type: 'enum', name: 'Action', symbols: ['allow', 'deny'], default: 'allow' } },
      ],
    };
    assert.equal(
      canonicalForm(parseSchema(written)),
      '{"name":"io.example.Flow","type":"record","fields":[{"name":"start","type":"long"},' +
        '{"name":"port","type":["null","int"]},{"name":"action","type":{"name":"io.example.Action","type":"enum","symbols":["allow","deny"]}}]}',
    );
    assert.equal(canonicalForm(parseSchema({ type: 'fixed', name: 'foo', size: 15 })), '{"name":"foo","type":"fixed","size":15}');
  });
});
