/**
 * `ingest-calico` benchmark: lines/s of the Calico flow-log parsers — the text format and the
 * Enterprise JSON format — beside the raw line-split rate of the same bytes in the same run, the
 * text formatter, and a LineFileSource reading the text lines from a file end to end. The lines
 * are the shared 21-line sample, repeated with shifted times and varied counters.
 *
 *   npx tsx bench/ingest-calico.ts        (or: npm run bench -- ingest-calico)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { parseCalicoJson } from '../ingest/calico-json.js';
import { calicoTextParser, formatCalicoText, parseCalicoText } from '../ingest/calico-text.js';
import { LineFileSource } from '../ingest/line-file-source.js';
import type { RawFlow } from '../schemas/types.js';
import { type Figure, report, withBaseline } from './report.js';

const LINES = 200_000;
const WARMUP_ROUNDS = 2;
const SAMPLE_ROUNDS = 5;
const HOST = 'ip-10-0-1-23.ec2.internal';

const repoDir = fileURLToPath(new URL('..', import.meta.url));
const sampleFile = join(repoDir, '..', 'shared', 'data', 'calico-cloudwatch-flowlogs.txt');
const protoNames: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

/** The sample repeated to `LINES` flows, one interval (300 s) per pass, counters varied. */
function flows(): RawFlow[] {
  const sample = readFileSync(sampleFile, 'utf8').split('\n').filter((line) => line !== '');
  return Array.from({ length: LINES }, (_, i) => {
    const flow = parseCalicoText(sample[i % sample.length]!, { host: HOST });
    const shift = 300_000 * Math.floor(i / sample.length);
    return { ...flow, start_time: flow.start_time + shift, end_time: flow.end_time + shift, bytes_in: flow.bytes_in + (i % 997) };
  });
}

/** A flow as Calico Enterprise writes it to flows.log. */
function enterpriseJson(flow: RawFlow, i: number): string {
  const labels = (aggr: string | null | undefined) => (aggr ? { labels: [`app=${aggr.replace(/[^a-z0-9-]/g, '')}`, 'tier=web'] } : null);
  return JSON.stringify({
    start_time: flow.start_time / 1000,
    end_time: flow.end_time / 1000,
    source_ip: flow.source_ip ?? null,
    source_name: flow.source_name ?? '-',
    source_name_aggr: flow.source_name_aggr ?? '-',
    source_namespace: flow.source_namespace ?? '-',
    source_port: flow.source_port ?? null,
    source_type: flow.source_type,
    source_labels: labels(flow.source_name_aggr),
    dest_ip: flow.dest_ip ?? null,
    dest_name: flow.dest_name ?? '-',
    dest_name_aggr: flow.dest_name_aggr ?? '-',
    dest_namespace: flow.dest_namespace ?? '-',
    dest_port: flow.dest_port ?? null,
    dest_type: flow.dest_type,
    dest_labels: labels(flow.dest_name_aggr),
    dest_service_namespace: '-',
    dest_service_name: '-',
    dest_service_port: '-',
    proto: protoNames[flow.proto] ?? String(flow.proto),
    action: flow.action,
    reporter: flow.reporter,
    policies: { all_policies: [`0|default|${flow.dest_namespace ?? 'default'}/default.allow|${flow.action}|0`] },
    bytes_in: flow.bytes_in,
    bytes_out: flow.bytes_out,
    num_flows: flow.num_flows,
    num_flows_started: flow.num_flows_started,
    num_flows_completed: flow.num_flows_completed,
    packets_in: flow.packets_in,
    packets_out: flow.packets_out,
    http_requests_allowed_in: 0,
    http_requests_denied_in: 0,
    process_name: '-',
    process_id: '-',
    tcp_mean_smooth_rtt: flow.proto === 6 ? 850 + (i % 100) : null,
    host: HOST,
  });
}

/** Calls `each` with every line of `data` (split on \n, decoded as UTF-8); returns the line count. */
function eachLine(data: Buffer, each: (line: string) => unknown): number {
  let count = 0;
  for (let start = 0; start < data.length; ) {
    let end = data.indexOf(10, start);
    if (end < 0) end = data.length;
    each(data.toString('utf8', start, end));
    count += 1;
    start = end + 1;
  }
  return count;
}

/** Median lines/s of `run` (which returns the lines it handled) over the sample rounds. */
async function rate(run: () => number | Promise<number>): Promise<number> {
  const rates: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + SAMPLE_ROUNDS; round++) {
    const started = process.hrtime.bigint();
    const lines = await run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (round >= WARMUP_ROUNDS) rates.push(lines / seconds);
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
}

async function readFileSource(path: string): Promise<number> {
  const source = new LineFileSource({ path, parse: calicoTextParser({ host: HOST }), batchLines: 500 });
  let count = 0;
  for await (const batch of source.batches()) count += batch.flows.length + batch.problems.length;
  await source.close();
  return count;
}

export async function run(): Promise<Figure[]> {
  const records = flows();
  const text = Buffer.from(`${records.map((flow) => formatCalicoText(flow)).join('\n')}\n`);
  const json = Buffer.from(`${records.map(enterpriseJson).join('\n')}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-bench-calico-'));
  const file = join(dir, 'flows.log');
  writeFileSync(file, text);
  const noLine = (line: string) => line.length > 0;
  try {
    const textSplit = await rate(() => eachLine(text, noLine));
    const textParse = await rate(() => eachLine(text, (line) => line.length > 0 && parseCalicoText(line, { host: HOST })));
    const textFormat = await rate(() => records.reduce((sum, flow) => sum + formatCalicoText(flow).length, 0) && records.length);
    const fileSource = await rate(() => readFileSource(file));
    const jsonSplit = await rate(() => eachLine(json, noLine));
    const jsonOnly = await rate(() => eachLine(json, (line) => line.length > 0 && JSON.parse(line)));
    const jsonParse = await rate(() => eachLine(json, (line) => line.length > 0 && parseCalicoJson(line)));
    const figures: Figure[] = [
      { name: 'text-line-split', value: textSplit, unit: 'lines/s' },
      withBaseline('text-parse', textParse, 'lines/s', 'text-line-split', textSplit),
      withBaseline('text-format', textFormat, 'lines/s', 'text-parse', textParse),
      withBaseline('text-line-file-source', fileSource, 'lines/s', 'text-parse', textParse),
      { name: 'json-line-split', value: jsonSplit, unit: 'lines/s' },
      withBaseline('json-JSON.parse-only', jsonOnly, 'lines/s', 'json-line-split', jsonSplit),
      withBaseline('json-parse', jsonParse, 'lines/s', 'json-line-split', jsonSplit),
    ];
    report('ingest-calico', figures, {
      lines: LINES,
      warmupRounds: WARMUP_ROUNDS,
      sampleRounds: SAMPLE_ROUNDS,
      textBytesPerLine: Math.round(text.length / LINES),
      jsonBytesPerLine: Math.round(json.length / LINES),
    });
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
