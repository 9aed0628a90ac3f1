/**
 * Properties of the VPC parsers over arbitrary input: nothing but an IngestError ever escapes,
 * every flow they yield is a valid RawFlow, and no input takes super-linear time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeSubscriptionPayload } from '../../../ingest/cloudwatch-subscription.js';
import { IngestError } from '../../../ingest/problems.js';
import { defaultVpcFormat, parseVpcLine, vpcFormatFromHeader, vpcFormatOfVersion } from '../../../ingest/vpc-flow-log.js';
import { splitLines } from '../../../ingest/vpc-line-reader.js';
import { codecFor } from '../../../schemas/codec.js';

const codec = codecFor('RawFlow');
const v5 = vpcFormatOfVersion(5);

/** Runs `action`; true when it returned, false when it threw an IngestError; anything else fails. */
function onlyIngestErrors(action: () => void): boolean {
  try {
    action();
    return true;
  } catch (error) {
    if (error instanceof IngestError) return false;
    throw error;
  }
}

function parsesSafely(line: string): void {
  for (const format of [defaultVpcFormat, v5]) {
    onlyIngestErrors(() => {
      const result = parseVpcLine(format, line);
      if (result.kind === 'flow') codec.encode(result.flow);
    });
  }
}

/** Tokens that look like flow log values, for lines close to real ones. */
const token = fc.oneof(
  fc.constantFrom('-', '2', '5', '6', '17', 'ACCEPT', 'REJECT', 'OK', 'NODATA', 'SKIPDATA', 'ingress', 'egress', 'eni-1', '::1', '10.0.0.1'),
  fc.nat().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 12 }),
);
const separator = fc.constantFrom(' ', ' ', ' ', '  ', '\t', '\r', '\n');
const tokenLine = (count: fc.Arbitrary<number>) =>
  count.chain((n) => fc.tuple(fc.array(token, { minLength: n, maxLength: n }), fc.array(separator, { minLength: n, maxLength: n })))
    .map(([tokens, separators]) => tokens.map((value, i) => `${value}${separators[i]}`).join(''));

const valid = '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK';

describe('Ingest > VPC flow logs > properties', () => {
  it('parseVpcLine throws nothing but IngestError on any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (line) => parsesSafely(line)), { numRuns: 2_000 });
  });

  it('parseVpcLine throws nothing but IngestError on lines of plausible tokens, and its flows are valid', () => {
    fc.assert(fc.property(tokenLine(fc.constantFrom(13, 14, 15, 28, 29)), (line) => parsesSafely(line)), { numRuns: 3_000 });
  });

  it('a valid line with one field replaced yields a valid flow, a skip or an IngestError', () => {
    const fields = valid.split(' ');
    fc.assert(
      fc.property(fc.nat({ max: fields.length - 1 }), token, (index, value) => {
        parsesSafely(fields.map((field, i) => (i === index ? value : field)).join(' '));
      }),
      { numRuns: 3_000 },
    );
  });

  it('header lines throw nothing but IngestError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), tokenLine(fc.nat({ max: 30 }))), (header) => {
        onlyIngestErrors(() => vpcFormatFromHeader(header));
      }),
      { numRuns: 1_000 },
    );
  });

  it('decodeSubscriptionPayload throws nothing but IngestError on any bytes, gzip or not', () => {
    const bytes = fc.uint8Array({ maxLength: 300 });
    const gzipped = fc.oneof(fc.json(), fc.string({ unit: 'binary', maxLength: 200 })).map((text) => gzipSync(text));
    const envelope = fc
      .record({
        messageType: fc.constantFrom('DATA_MESSAGE', 'CONTROL_MESSAGE', 'X'),
        owner: fc.oneof(fc.string(), fc.integer()),
        logGroup: fc.string(),
        logStream: fc.string(),
        subscriptionFilters: fc.oneof(fc.array(fc.string()), fc.anything()),
        logEvents: fc.oneof(fc.array(fc.record({ id: fc.anything(), timestamp: fc.anything(), message: fc.anything() })), fc.anything()),
      })
      .map((value) => gzipSync(JSON.stringify(value)));
    const base64 = fc.oneof(gzipped, envelope).map((gz) => Buffer.from(gz.toString('base64')));
    fc.assert(
      fc.property(fc.oneof(bytes, gzipped, envelope, base64), (data) => {
        onlyIngestErrors(() => decodeSubscriptionPayload(data, { maxDecodedBytes: 1 << 20 }));
      }),
      { numRuns: 2_000 },
    );
  });

  it('splitLines keeps every line whatever the chunking, and cuts only the long ones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary-ascii', maxLength: 40 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        async (lines, cuts) => {
          const text = Buffer.from(lines.map((line) => line.replaceAll('\n', ' ')).join('\n'), 'latin1');
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < text.length; i++) {
            const size = cuts[i % cuts.length]!;
            chunks.push(text.subarray(at, at + size));
            at += size;
          }
          const limit = 24;
          const read = [];
          for await (const line of splitLines(toAsync(chunks), limit)) read.push(line);
          const expected = text.length === 0 ? [] : text.toString('latin1').split('\n');
          // A final empty line (the text ended with a newline) is not a line.
          if (expected.at(-1) === '') expected.pop();
          assert.deepEqual(read.map((line) => line.bytes.toString('latin1')), expected.map((line) => line.slice(0, limit)));
          assert.deepEqual(read.map((line) => line.cut), expected.map((line) => line.length > limit));
          assert.deepEqual(read.map((line) => line.number), expected.map((_, i) => i + 1));
        },
      ),
      { numRuns: 500 },
    );
  });
});

async function* toAsync(chunks: readonly Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
}

/** Best of a few runs, in milliseconds. */
async function fastest(run: () => unknown, runs = 5): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

/** Time on 16 times the input stays within 64 times the time on the input (quadratic would be 256), plus slack for tiny times. */
async function assertLinear(what: string, run: (size: number) => unknown): Promise<void> {
  const small = 20_000;
  const t1 = await fastest(() => run(small));
  const t16 = await fastest(() => run(small * 16));
  assert.ok(t16 <= t1 * 64 + 25, `${what}: ${t1.toFixed(2)} ms for ${small}, ${t16.toFixed(2)} ms for ${small * 16}`);
}

describe('Ingest > VPC flow logs > linear time', () => {
  it('parseVpcLine, header reading and payload decoding stay linear on long garbage', async () => {
    // Units that stress splitting, number, IP and header checks; fast-check adds arbitrary ones.
    const units = ['a', ' ', '9', ':', '1:', '-', 'a-', '\t ', '2 ', '${', '::ffff:'];
    const arbitrary = fc.sample(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 6 }), { numRuns: 12, seed: 42 });
    for (const unit of [...units, ...arbitrary]) {
      await assertLinear(`parse ${JSON.stringify(unit)}`, (size) => parsesSafely(`2 ${unit.repeat(Math.ceil(size / unit.length))}`));
      await assertLinear(`header ${JSON.stringify(unit)}`, (size) =>
        onlyIngestErrors(() => vpcFormatFromHeader(`version ${unit.repeat(Math.ceil(size / unit.length))}`)),
      );
    }
    await assertLinear('one long field', (size) => parsesSafely(valid.replace('20641', '1'.repeat(size))));
    await assertLinear('an IPv6-like address', (size) => parsesSafely(valid.replace('172.31.16.139', `${'1:'.repeat(size / 2)}1`)));
    await assertLinear('base64-like payload', (size) => onlyIngestErrors(() => decodeSubscriptionPayload(Buffer.from(`H4sI${'A'.repeat(size)}!`))));
    await assertLinear('a long line without newline', async (size) => {
      for await (const line of splitLines(toAsync(Array.from({ length: size / 100 }, () => Buffer.alloc(100, 0x39))), 1024)) void line;
    });
  });
});
