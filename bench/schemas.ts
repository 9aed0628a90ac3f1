/**
 * `schemas` benchmark: Avro encode and decode of RawFlow and EnrichedFlow (one record per
 * message, and batches), beside JSON.stringify/JSON.parse of the same records, in the same run.
 * Records are built from the shared Calico flow-log sample. Prints one line per figure and
 * writes bench/results/schemas.json (through bench/report.ts).
 *
 *   npx tsx bench/schemas.ts
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createBoundsCheck } from '../schemas/bounds.js';
import { codecFor, HEADER_SIZE, MAGIC, type RecordCodec } from '../schemas/codec.js';
import { fingerprintBytes } from '../schemas/fingerprint.js';
import { schemaRegistry } from '../schemas/registry.js';
import { samples } from '../schemas/samples.js';
import type { EndpointType, EnrichedFlow, Labels, RawFlow } from '../schemas/types.js';
import { type Figure, report, withBaseline } from './report.js';
import { noFlowExtras } from '../schemas/defaults.js';

const WARMUP_ROUNDS = 3;
const SAMPLE_ROUNDS = 7;
const RECORDS_PER_ROUND = 20_000;
const DISTINCT_RECORDS = 1000;
const BATCH_SIZES = [10, 100, 1000] as const;

const repoDir = fileURLToPath(new URL('..', import.meta.url));
const sampleFile = join(repoDir, '..', 'shared', 'data', 'calico-cloudwatch-flowlogs.txt');

interface BenchCase {
  readonly name: string;
  readonly record: string;
  readonly recordsPerCall: number;
  readonly call: () => void;
  /** The JSON case this one is compared with. */
  readonly baseline?: string;
}

const dash = (value: string | undefined): string | null => (value === undefined || value === '-' ? null : value);
const numberOrNull = (value: string | undefined): number | null => (dash(value) === null ? null : Number(value));
const exactName = (value: string | undefined): string | null => (dash(value)?.endsWith('*') ? null : dash(value));

/**
 * One Calico CloudWatch line (24 fields) as the RawFlow a collector would emit; `index` varies
 * the node, the interval (one per pass over the lines) and a counter so no two records are equal. Built as one object
 * literal with every field, as a parser would: see "Building records" in schemas/README.md.
 */
export function rawFlowOf(line: string, index: number, lineCount: number): RawFlow {
  const f = line.trim().split(/\s+/);
  const interval = 300_000 * Math.floor(index / lineCount);
  return {
    start_time: Number(f[0]) * 1000 + interval,
    end_time: Number(f[1]) * 1000 + interval,
    origin: 'calico',
    host: `ip-10-0-${index % 4}-23.ec2.internal`,
    source_ip: dash(f[10]),
    source_port: numberOrNull(f[13]),
    source_type: f[2] as EndpointType,
    source_namespace: dash(f[3]),
    source_name: exactName(f[4]),
    source_name_aggr: dash(f[4]),
    source_labels: null,
    dest_ip: dash(f[11]),
    dest_port: numberOrNull(f[14]),
    dest_type: f[6] as EndpointType,
    dest_namespace: dash(f[7]),
    dest_name: exactName(f[8]),
    dest_name_aggr: dash(f[8]),
    dest_labels: null,
    dest_service_namespace: null,
    dest_service_name: null,
    dest_service_port: null,
    dest_service_port_num: null,
    proto: Number(f[12]),
    reporter: f[18] === 'in' ? 'dst' : 'src',
    action: f[23] === 'deny' ? 'deny' : 'allow',
    policies: [],
    bytes_in: Number(f[21]),
    bytes_out: Number(f[22]) + index,
    packets_in: Number(f[19]),
    packets_out: Number(f[20]),
    num_flows: Number(f[15]),
    num_flows_started: Number(f[16]),
    num_flows_completed: Number(f[17]),
    ...noFlowExtras,
  };
}

interface Identity {
  type: EndpointType;
  aggr: string;
  ip: string;
  labels: Labels;
  account: string | null;
  node: string | null;
}

function identityOf(type: EndpointType | null | undefined, namespace: string | null | undefined, aggr: string | null | undefined, ip: string, node: string): Identity {
  const workload = type === 'wep';
  const labels: Labels = workload ? { app: (aggr ?? '').replace(/[.-]\*$/, ''), 'pod-template-hash': '7d9f8c' } : {};
  return { type: type ?? 'net', aggr: aggr ?? 'pvt', ip, labels, account: workload ? (namespace ?? 'default') : null, node: workload || type === 'hep' ? node : null };
}

/** The same flow after enrichment: both ends' identity at the flow's time. */
export function enrichedFlowOf(flow: RawFlow, index: number): EnrichedFlow {
  const source = identityOf(flow.source_type, flow.source_namespace, flow.source_name_aggr, `10.0.1.${(index * 7) % 250}`, flow.host);
  const dest = identityOf(flow.dest_type, flow.dest_namespace, flow.dest_name_aggr, `10.0.2.${(index * 11) % 250}`, `ip-10-0-${(index + 1) % 4}-88.ec2.internal`);
  return {
    start_time: flow.start_time,
    end_time: flow.end_time,
    origin: flow.origin,
    host: flow.host,
    source_ip: flow.source_ip ?? source.ip,
    source_port: flow.source_port ?? 32768 + index,
    source_type: source.type,
    source_namespace: flow.source_namespace ?? null,
    source_name: flow.source_name ?? null,
    source_name_aggr: source.aggr,
    source_labels: source.labels,
    source_service_account: source.account,
    source_node: source.node,
    dest_ip: flow.dest_ip ?? dest.ip,
    dest_port: flow.dest_port ?? null,
    dest_type: dest.type,
    dest_namespace: flow.dest_namespace ?? null,
    dest_name: flow.dest_name ?? null,
    dest_name_aggr: dest.aggr,
    dest_labels: dest.labels,
    dest_service_account: dest.account,
    dest_node: dest.node,
    proto: flow.proto,
    reporter: flow.reporter,
    action: flow.action,
    bytes_in: flow.bytes_in,
    bytes_out: flow.bytes_out,
    packets_in: flow.packets_in,
    packets_out: flow.packets_out,
    num_flows: flow.num_flows,
    num_flows_started: flow.num_flows_started,
    num_flows_completed: flow.num_flows_completed,
    dest_service_namespace: null,
    dest_service_name: null,
    dest_service_port: null,
    dest_service_port_num: null,
    policies: [`0|default|${flow.dest_namespace ?? 'global'}/allow-${flow.dest_port ?? 0}|${flow.action}`],
    ...noFlowExtras,
  };
}

/** DISTINCT_RECORDS flows cycled from the sample lines. */
export function loadRawFlows(): { records: RawFlow[]; lines: number } {
  const lines = existsSync(sampleFile) ? readFileSync(sampleFile, 'utf8').split('\n').filter((line) => line.trim() !== '') : [];
  if (lines.length === 0) return { records: [samples.RawFlow], lines: 0 };
  return { records: Array.from({ length: DISTINCT_RECORDS }, (_, i) => rawFlowOf(lines[i % lines.length] as string, i, lines.length)), lines: lines.length };
}

/**
 * Median records/s of every case. Rounds interleave the cases, so a busy machine slows Avro and
 * JSON alike and the ratios stay meaningful.
 */
function measure(cases: readonly BenchCase[]): Map<BenchCase, number> {
  const rates = new Map<BenchCase, number[]>(cases.map((benchCase) => [benchCase, []]));
  for (let round = 0; round < WARMUP_ROUNDS + SAMPLE_ROUNDS; round++) {
    for (const benchCase of cases) {
      const calls = Math.max(1, Math.round(RECORDS_PER_ROUND / benchCase.recordsPerCall));
      const started = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) benchCase.call();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (round >= WARMUP_ROUNDS) rates.get(benchCase)?.push((calls * benchCase.recordsPerCall) / seconds);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return new Map(cases.map((benchCase) => [benchCase, median(rates.get(benchCase) ?? [])]));
}

function cycle<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => items[next++ % items.length] as T;
}

function batchesOf<T>(records: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.max(1, Math.round(records.length / size)) }, (_, batch) =>
    Array.from({ length: size }, (_, i) => records[(batch * size + i) % records.length] as T),
  );
}

function casesOf(name: 'RawFlow' | 'EnrichedFlow', records: readonly object[]): BenchCase[] {
  const codec = codecFor(name) as RecordCodec<object>;
  const nextRecord = cycle(records);
  const nextMessage = cycle(records.map((record) => codec.encode(record)));
  const nextText = cycle(records.map((record) => JSON.stringify(record)));
  const check = createBoundsCheck(schemaRegistry().entry(name).current.type);
  const cases: BenchCase[] = [
    { name: 'json-stringify', record: name, recordsPerCall: 1, call: () => JSON.stringify(nextRecord()) },
    { name: 'json-parse', record: name, recordsPerCall: 1, call: () => JSON.parse(nextText()) },
    { name: 'avro-encode', record: name, recordsPerCall: 1, call: () => codec.encode(nextRecord()), baseline: 'json-stringify' },
    { name: 'avro-decode', record: name, recordsPerCall: 1, call: () => codec.decode(nextMessage()), baseline: 'json-parse' },
    { name: 'avro-bounds-check', record: name, recordsPerCall: 1, call: () => check(nextMessage(), HEADER_SIZE), baseline: 'json-parse' },
  ];
  for (const size of BATCH_SIZES) {
    const batches = batchesOf(records, size);
    const nextBatch = cycle(batches);
    const nextEncoded = cycle(batches.map((batch) => codec.encodeBatch(batch)));
    cases.push(
      { name: `avro-encode-batch${size}`, record: name, recordsPerCall: size, call: () => codec.encodeBatch(nextBatch()), baseline: 'json-stringify' },
      { name: `avro-decode-batch${size}`, record: name, recordsPerCall: size, call: () => codec.decodeBatch(nextEncoded()), baseline: 'json-parse' },
    );
  }
  return cases;
}

/**
 * EnrichedFlow built the way a join is tempting to write, `{ ...rawFlow, source_node, ... }`.
 * V8 then gives nearly every record its own hidden class, and the property reads in avsc's
 * generated writer go megamorphic.
 */
function spreadBuiltCases(rawRecords: readonly RawFlow[]): BenchCase[] {
  const codec = codecFor('EnrichedFlow');
  const built = rawRecords.map((flow, index): EnrichedFlow => {
    const e = enrichedFlowOf(flow, index);
    return {
      ...flow,
      source_ip: e.source_ip,
      source_port: e.source_port,
      source_type: e.source_type,
      source_name_aggr: e.source_name_aggr,
      source_labels: e.source_labels,
      source_service_account: e.source_service_account,
      source_node: e.source_node,
      dest_ip: e.dest_ip,
      dest_type: e.dest_type,
      dest_name_aggr: e.dest_name_aggr,
      dest_labels: e.dest_labels,
      dest_service_account: e.dest_service_account,
      dest_node: e.dest_node,
      policies: e.policies,
    };
  });
  const nextRecord = cycle(built);
  return [
    { name: 'json-stringify-spread-built', record: 'EnrichedFlow', recordsPerCall: 1, call: () => JSON.stringify(nextRecord()) },
    { name: 'avro-encode-spread-built', record: 'EnrichedFlow', recordsPerCall: 1, call: () => codec.encode(nextRecord()), baseline: 'json-stringify-spread-built' },
  ];
}

/** RawFlow written by v1 producers, read by the current reader (schema resolution). */
function resolvedCase(records: readonly RawFlow[]): BenchCase {
  const v1 = schemaRegistry().entry('RawFlow').history[0];
  if (!v1) throw new Error('RawFlow has no released v1');
  const header = Buffer.concat([MAGIC, fingerprintBytes(v1.fingerprint)]);
  const nextMessage = cycle(records.map((record) => Buffer.concat([header, v1.type.toBuffer(record)])));
  const codec = codecFor('RawFlow');
  return { name: 'avro-decode-from-v1', record: 'RawFlow', recordsPerCall: 1, call: () => codec.decode(nextMessage()), baseline: 'json-parse' };
}

function rateFigures(cases: readonly BenchCase[]): Figure[] {
  const rates = measure(cases);
  return cases.map((benchCase): Figure => {
    const name = `${benchCase.name} ${benchCase.record}`;
    const value = rates.get(benchCase) ?? 0;
    const baselineCase = cases.find((other) => other.record === benchCase.record && other.name === benchCase.baseline);
    if (!baselineCase) return { name, value, unit: 'records/s' };
    return withBaseline(name, value, 'records/s', 'json', rates.get(baselineCase) ?? 0);
  });
}

function sizeFigures(name: 'RawFlow' | 'EnrichedFlow', records: readonly object[]): Figure[] {
  const codec = codecFor(name) as RecordCodec<object>;
  const mean = (sizes: number[]) => sizes.reduce((sum, size) => sum + size, 0) / sizes.length;
  const json = mean(records.map((record) => Buffer.byteLength(JSON.stringify(record))));
  const single = mean(records.map((record) => codec.encode(record).length));
  const batched = mean(batchesOf(records, 100).map((batch) => codec.encodeBatch(batch).length / batch.length));
  return [
    withBaseline(`avro-size ${name}`, single, 'bytes/record', 'json', json),
    withBaseline(`avro-size-batch100 ${name}`, batched, 'bytes/record', 'json', json),
  ];
}

export async function run(): Promise<Figure[]> {
  const { records: rawRecords, lines } = loadRawFlows();
  const enrichedRecords = rawRecords.map(enrichedFlowOf);
  const figures = [
    ...rateFigures([
      ...casesOf('RawFlow', rawRecords),
      resolvedCase(rawRecords),
      ...casesOf('EnrichedFlow', enrichedRecords),
      ...spreadBuiltCases(rawRecords),
    ]),
    ...sizeFigures('RawFlow', rawRecords),
    ...sizeFigures('EnrichedFlow', enrichedRecords),
  ];
  const settings = { warmupRounds: WARMUP_ROUNDS, sampleRounds: SAMPLE_ROUNDS, recordsPerRound: RECORDS_PER_ROUND, distinctRecords: DISTINCT_RECORDS, sampleLines: lines };
  report('schemas', figures, settings);
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
