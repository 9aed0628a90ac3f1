import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseCalicoJson } from '../../../ingest/calico-json.js';
import { formatCalicoText, parseCalicoText } from '../../../ingest/calico-text.js';
import { IngestError } from '../../../ingest/problems.js';
import { codecFor } from '../../../schemas/codec.js';
import type { RawFlow } from '../../../schemas/types.js';

const sampleFile = fileURLToPath(new URL('../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url));
const sample = readFileSync(sampleFile, 'utf8').split('\n').filter((line) => line !== '');
const rawFlows = codecFor('RawFlow');
const runs = { numRuns: 400 };

/** Parses; a flow must be a valid RawFlow, and the only error allowed is an IngestError. */
function parsesOrRejects(parse: (line: string) => RawFlow, line: string): boolean {
  let flow: RawFlow;
  try {
    flow = parse(line);
  } catch (error) {
    if (error instanceof IngestError) return true;
    throw error;
  }
  rawFlows.encode(flow);
  return true;
}

const text = (line: string) => parseCalicoText(line, { host: 'node-a' });
const json = (line: string) => parseCalicoJson(line, { host: 'node-a' });

/** Strings of any code units, including lone surrogates and line breaks. */
const anyString = fc.string({ unit: 'binary', maxLength: 400 });
const bytesAsLatin1 = fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes).toString('latin1'));
const bytesAsUtf8 = fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes).toString('utf8'));
const sampleLine = fc.constantFrom(...sample);
const fieldWord = fc.oneof(
  fc.constantFrom('-', '0', '65535', '65536', '255', '[]', '[a=b]', '[=]', 'net', 'pvt', 'I', 'D', '::1', '1.2.3.4', 'tcp', '9'.repeat(20)),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
);

/** A sample line with some of its fields replaced. */
const mutatedTextLine = fc
  .tuple(sampleLine, fc.array(fc.tuple(fc.nat(25), fieldWord), { maxLength: 6 }))
  .map(([line, changes]) => {
    const fields = line.split(' ');
    for (const [index, value] of changes) fields[index] = value;
    return fields.join(' ');
  });

const enterpriseKeys = [
  'start_time', 'end_time', 'source_ip', 'source_name', 'source_name_aggr', 'source_namespace', 'source_port', 'source_type',
  'source_labels', 'dest_ip', 'dest_name', 'dest_name_aggr', 'dest_namespace', 'dest_port', 'dest_type', 'dest_labels',
  'dest_service_namespace', 'dest_service_name', 'dest_service_port', 'dest_service_port_num', 'proto', 'action', 'reporter',
  'policies', 'bytes_in', 'bytes_out', 'num_flows', 'num_flows_started', 'num_flows_completed', 'packets_in', 'packets_out',
  'process_name', 'process_id', 'process_args', 'tcp_mean_smooth_rtt', 'tcp_max_smooth_rtt', 'tcp_lost_packets', 'host',
];
const validRecord = {
  start_time: 1530810851, end_time: 1530811157, source_type: 'wep', source_namespace: 'stars', source_name_aggr: 'frontend-*',
  dest_type: 'net', dest_name_aggr: 'pub', dest_ip: '52.1.2.3', dest_port: 443, proto: 'tcp', reporter: 'src', action: 'allow',
  bytes_in: 1, bytes_out: 2, packets_in: 3, packets_out: 4, num_flows: 1, num_flows_started: 1, num_flows_completed: 0,
};
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('-', '', 'tcp', 'I', 'pvt', '10.0.0.1', '[a=b]', { labels: ['a=b'] }, { all_policies: ['p'] }, 1e21, -1, 0.5),
);
/** A valid record with some keys set to arbitrary JSON. */
const mutatedJsonLine = fc
  .tuple(fc.array(fc.tuple(fc.constantFrom(...enterpriseKeys), jsonish), { maxLength: 6 }), fc.boolean())
  .map(([changes, drop]) => {
    const record: Record<string, unknown> = { ...validRecord };
    for (const [key, value] of changes) {
      if (drop && value === null) delete record[key];
      else record[key] = value;
    }
    return JSON.stringify(record);
  });

/** A flow the text format can carry exactly: canonical words, whole seconds, names without whitespace. */
const token = fc.stringMatching(/^[a-z0-9][a-z0-9.*_-]{0,20}$/);
const textFlow = fc
  .record({
    start: fc.integer({ min: 0, max: 4_000_000_000 }),
    length: fc.integer({ min: 0, max: 3600 }),
    sourceType: fc.constantFrom('wep', 'hep', 'ns', null),
    destNetwork: fc.option(fc.constantFrom('pub', 'pvt', 'aws'), { nil: null }),
    namespace: fc.option(token, { nil: null }),
    name: fc.option(token, { nil: null }),
    labels: fc.option(fc.dictionary(token, fc.stringMatching(/^[a-z0-9._-]{0,10}$/), { maxKeys: 4, noNullPrototype: true }), { nil: null }),
    ip: fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: null }),
    port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }),
    proto: fc.integer({ min: 0, max: 255 }),
    reporter: fc.constantFrom('src', 'dst'),
    action: fc.constantFrom('allow', 'deny'),
    counts: fc.array(fc.maxSafeNat(), { minLength: 7, maxLength: 7 }),
  })
  .map((v): RawFlow => {
    const base = text(sample[0]!);
    const exact = v.name !== null && !v.name.includes('*');
    return {
      ...base,
      start_time: v.start * 1000,
      end_time: (v.start + v.length) * 1000,
      source_ip: v.ip,
      source_port: v.port,
      source_type: v.sourceType,
      source_namespace: v.namespace,
      source_name: exact ? v.name : null,
      source_name_aggr: v.name,
      source_labels: v.labels,
      dest_type: v.destNetwork === null ? 'wep' : 'net',
      dest_namespace: v.destNetwork === null ? v.namespace : null,
      dest_name_aggr: v.destNetwork ?? v.name,
      dest_name: v.destNetwork === null && exact ? v.name : null,
      proto: v.proto,
      reporter: v.reporter,
      action: v.action,
      bytes_in: v.counts[0]!,
      bytes_out: v.counts[1]!,
      packets_in: v.counts[2]!,
      packets_out: v.counts[3]!,
      num_flows: v.counts[4]!,
      num_flows_started: v.counts[5]!,
      num_flows_completed: v.counts[6]!,
    };
  });

const swallow = (parse: (line: string) => unknown, line: string) => {
  try {
    parse(line);
  } catch {
    // Garbage is expected to be rejected.
  }
};

/** How many calls of `parse(line)` take about 5 ms. */
function callsFor(parse: (line: string) => unknown, line: string): number {
  for (let calls = 1; ; calls *= 2) {
    const started = performance.now();
    for (let i = 0; i < calls; i++) swallow(parse, line);
    if (performance.now() - started >= 5) return calls;
  }
}

/** Best time per call for each line, measured in alternation so that a busy moment hits all alike. */
function bestTimes(parse: (line: string) => unknown, lines: readonly string[]): number[] {
  const calls = lines.map((line) => callsFor(parse, line));
  const best = lines.map(() => Infinity);
  for (let round = 0; round < 7; round++) {
    lines.forEach((line, index) => {
      const started = performance.now();
      for (let i = 0; i < calls[index]!; i++) swallow(parse, line);
      best[index] = Math.min(best[index]!, (performance.now() - started) / calls[index]!);
    });
  }
  return best;
}

const SMALL = 2_000;
/**
 * Twenty times the input, and below 64 KiB (a LineFileSource never hands a parser a longer line),
 * which also keeps V8's large-object space and its collections out of the measurement: linear time
 * gives a ratio near 20 at most, quadratic near 400. The bound sits between, with room for a busy
 * machine, and a shape fails only when two measurements in a row exceed it.
 */
const LARGE = 40_000;
const MAX_RATIO = 100;

function assertLinear(parse: (line: string) => unknown, shapes: Record<string, (size: number) => string>): void {
  for (const [shape, make] of Object.entries(shapes)) {
    const lines = [make(SMALL), make(LARGE)];
    const ratios: number[] = [];
    for (let attempt = 0; attempt < 2 && !(ratios.at(-1)! < MAX_RATIO); attempt++) {
      const [small, large] = bestTimes(parse, lines);
      ratios.push(large! / small!);
    }
    assert.ok(ratios.at(-1)! < MAX_RATIO, `${shape}: ${LARGE} chars took ${ratios.map((ratio) => ratio.toFixed(1)).join('x, then ')}x the time of ${SMALL}`);
  }
}

const fill = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const withField = (index: number, value: string) => {
  const fields = sample[0]!.split(' ');
  fields[index] = value;
  return fields.join(' ');
};

describe('Ingest > Calico parsers > properties', () => {
  it('text: no input throws anything but an IngestError, and every flow is a valid RawFlow', () => {
    for (const input of [anyString, bytesAsLatin1, bytesAsUtf8, mutatedTextLine]) {
      fc.assert(fc.property(input, (line) => parsesOrRejects(text, line)), runs);
    }
  });

  it('text: a flow the format can carry formats, parses and formats back unchanged', () => {
    fc.assert(
      fc.property(textFlow, (flow) => {
        const line = formatCalicoText(flow);
        assert.deepEqual(text(line), flow);
        assert.equal(formatCalicoText(text(line)), line);
      }),
      runs,
    );
  });

  it('json: no input throws anything but an IngestError, and every flow is a valid RawFlow', () => {
    const anyJson = fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value));
    for (const input of [anyString, bytesAsUtf8, anyJson, mutatedJsonLine]) {
      fc.assert(fc.property(input, (line) => parsesOrRejects(json, line)), runs);
    }
  });

  it('text: time grows linearly with the length of a garbage line', () => {
    assertLinear(text, {
      'one long word': (size) => fill('x', size),
      'many fields': (size) => fill('a ', size),
      'many tabs': (size) => fill('\t', size),
      'long labels': (size) => withField(5, `[${fill('k=v,', size)}x=y]`),
      'many distinct labels': (size) => withField(5, `[${Array.from({ length: size / 8 }, (_, i) => `k${i}=v`).join(',')}]`),
      'long digits': (size) => withField(21, fill('9', size)),
      'long address': (size) => withField(10, fill('1.', size)),
      'long name': (size) => withField(4, fill('n', size)),
    });
  });

  it('json: time grows linearly with the length of a garbage line', () => {
    const record = (extra: Record<string, unknown>) => JSON.stringify({ ...validRecord, ...extra });
    assertLinear(json, {
      'deep nesting': (size) => fill('[', size),
      'deep objects': (size) => fill('{"a":', size),
      'long string': (size) => `"${fill('a', size)}"`,
      'unterminated string': (size) => `{"a":"${fill('\\u00', size)}`,
      'one key repeated': (size) => `{${fill('"proto":"tcp",', size)}"a":1}`,
      'many labels': (size) => record({ source_labels: { labels: Array.from({ length: size / 8 }, (_, i) => `k${i}=v`) } }),
      'long policy list': (size) => record({ policies: { all_policies: Array.from({ length: size / 4 }, () => 'p') } }),
      'long name': (size) => record({ source_name: fill('n', size) }),
    });
  });
});
