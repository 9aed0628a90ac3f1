/**
 * `npx tsx bench/sink-cloudwatch.ts [flows]` (or `npm run bench -- sink-cloudwatch [flows]`;
 * default 200 000 flows): how fast the CloudWatch Logs outlet turns flows into PutLogEvents
 * batches, without the network.
 *
 * - Baseline: formatting the flows alone (`flowLogEvent`, Calico text lines), flows/s.
 * - Format and batch: `flowLogEvent` then `buildLogBatches` (UTF-8 byte counts, stable sort,
 *   cuts at 10 000 events / 1 MiB / 24 h), flows/s, and the ratio to the baseline.
 * - Batch only: `buildLogBatches` over the already formatted events, events/s.
 * - The same three with JSON lines.
 *
 * Flows: the 21 lines of the shared Calico sample, as enriched flows on 4 nodes, with distinct
 * counters and end times spread over an hour in random order (so the sort has work). The cases
 * take turns, one warm-up round, then the median of 7.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCalicoText } from '../ingest/calico-text.js';
import type { EnrichedFlow } from '../schemas/types.js';
import { flowLogEvent, type FlowLineFormat } from '../sink/cloudwatch/flow-lines.js';
import { buildLogBatches, type LogEvent } from '../sink/cloudwatch/log-batches.js';
import { median, random } from './measure.js';
import { report, withBaseline, type Figure } from './report.js';

const FLOWS = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 200_000);
const WARMUPS = 1;
const SAMPLES = 7;
const samplePath = fileURLToPath(new URL('../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url));

function generateFlows(count: number): EnrichedFlow[] {
  const lines = readFileSync(samplePath, 'utf8').split('\n').filter((line) => line !== '');
  const next = random(5);
  const start = 1_800_000_000_000;
  return Array.from({ length: count }, (_, i) => {
    const raw = parseCalicoText(lines[i % lines.length]!, { host: `ip-10-0-${i % 4}-10.ec2.internal` });
    const end = start + Math.floor(next() * 3_600_000);
    const { source_labels, dest_labels, ...rest } = raw;
    return {
      ...rest,
      start_time: end - 10_000,
      end_time: end,
      bytes_out: raw.bytes_out + i,
      source_type: raw.source_type ?? 'net',
      source_name_aggr: raw.source_name_aggr ?? '-',
      ...(source_labels ? { source_labels } : {}),
      dest_type: raw.dest_type ?? 'net',
      dest_name_aggr: raw.dest_name_aggr ?? '-',
      ...(dest_labels ? { dest_labels } : {}),
    };
  });
}

interface Case {
  readonly name: string;
  /** One pass; returns a number that depends on the work, so it is not optimised away. */
  readonly pass: () => number;
  readonly rates: number[];
}

function sample(cases: readonly Case[], turn: number, keep: boolean): void {
  for (let k = 0; k < cases.length; k++) {
    const c = cases[(k + turn) % cases.length]!;
    const start = process.hrtime.bigint();
    const check = c.pass();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (check <= 0) throw new Error(`${c.name}: no work done`);
    if (keep) c.rates.push(FLOWS / seconds);
  }
}

function casesFor(flows: readonly EnrichedFlow[], format: FlowLineFormat): Case[] {
  const formatted: LogEvent[] = flows.map((flow) => flowLogEvent(flow, format));
  return [
    {
      name: `format ${format}`,
      pass: () => {
        let bytes = 0;
        for (const flow of flows) bytes += flowLogEvent(flow, format).message.length;
        return bytes;
      },
      rates: [],
    },
    {
      name: `format ${format} + batch`,
      pass: () => buildLogBatches(flows.map((flow) => flowLogEvent(flow, format))).batches.length,
      rates: [],
    },
    { name: `batch ${format} events`, pass: () => buildLogBatches(formatted).batches.length, rates: [] },
  ];
}

function main(): void {
  const began = performance.now();
  const flows = generateFlows(FLOWS);
  const figures: Figure[] = [];
  const settings: Record<string, unknown> = { flows: FLOWS, warmups: WARMUPS, samples: SAMPLES };
  for (const format of ['calico', 'json'] as const) {
    const cases = casesFor(flows, format);
    for (let round = 0; round < WARMUPS + SAMPLES; round++) sample(cases, round, round >= WARMUPS);
    const [formatOnly, both, batchOnly] = cases.map((c) => median(c.rates)) as [number, number, number];
    const batching = buildLogBatches(flows.map((flow) => flowLogEvent(flow, format)));
    figures.push(
      { name: `format ${format} lines (baseline)`, value: formatOnly, unit: 'flows/s' },
      withBaseline(`format ${format} + build batches`, both, 'flows/s', 'format alone', formatOnly),
      { name: `build batches of ${format} events`, value: batchOnly, unit: 'events/s' },
    );
    settings[format] = { batches: batching.batches.length, refused: batching.refused.length, rates: Object.fromEntries(cases.map((c) => [c.name, c.rates.map(Math.round)])) };
  }
  settings['seconds'] = Number(((performance.now() - began) / 1000).toFixed(1));
  report('sink-cloudwatch', figures, settings);
}

main();
