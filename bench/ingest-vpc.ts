/**
 * `npx tsx bench/ingest-vpc.ts [lines]` (or `npm run bench -- ingest-vpc`): VPC Flow Logs parse
 * throughput in lines/s, for the default v2 format and a 26-field v5 custom format, beside the
 * raw line-split rate of the same bytes in the same run (cutting into lines and decoding them,
 * the work every line costs before parsing). Also the file source end to end over the same data
 * as a plain and a gzip file (disk cache warm), against the split rate.
 *
 * Data: ~200k generated lines per format (10% IPv6, 10% REJECT, 2% NODATA), deterministic.
 * One warm-up run, then the median of 5.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { VpcFileSource } from '../ingest/vpc-file-source.js';
import { defaultVpcFormat, parseVpcLine, vpcFormatFromHeader, type VpcFlowLogFormat } from '../ingest/vpc-flow-log.js';
import { splitLines } from '../ingest/vpc-line-reader.js';
import { report, withBaseline, type Figure } from './report.js';

const totalLines = Number(process.argv[2] ?? 200_000);
const warmups = 1;
const samples = 5;
const chunkBytes = 64 * 1024;

const v5Header =
  'version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr ' +
  'protocol bytes packets start end action tcp-flags log-status region flow-direction traffic-path pkt-src-aws-service pkt-dst-aws-service';

/** A small deterministic generator (LCG), so every run parses the same data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Generated {
  readonly format: VpcFlowLogFormat;
  readonly text: Buffer;
  readonly withHeader: Buffer;
}

function generate(version: 2 | 5): Generated {
  const next = random(version);
  const pick = (n: number) => Math.floor(next() * n);
  const ip = (v6: boolean) => (v6 ? `2600:1f18:2eb:5e0${pick(10)}::${pick(65_536).toString(16)}` : `10.${pick(256)}.${pick(256)}.${pick(256)}`);
  const lines: string[] = [];
  for (let i = 0; i < totalLines; i++) {
    const eni = `eni-0${(1_000_000 + pick(1_000)).toString(16)}a1b2c3d4e`;
    const start = 1_700_000_000 + Math.floor(i / 100);
    const nodata = next() < 0.02;
    const v6 = next() < 0.1;
    const [src, dst] = [ip(v6), ip(v6)];
    const [sport, dport] = [1024 + pick(60_000), [443, 80, 22, 5432, 6379][pick(5)]!];
    const action = next() < 0.1 ? 'REJECT' : 'ACCEPT';
    const [packets, bytes] = [1 + pick(500), 60 + pick(1_000_000)];
    if (version === 2) {
      lines.push(
        nodata
          ? `2 123456789010 ${eni} - - - - - - - ${start} ${start + 60} - NODATA`
          : `2 123456789010 ${eni} ${src} ${dst} ${sport} ${dport} 6 ${packets} ${bytes} ${start} ${start + 60} ${action} OK`,
      );
    } else {
      const ids = `5 vpc-0d1e2f3a4b5c6d7e8 subnet-0a1b2c3d4e5f6a7b8 i-0c1d2e3f4a5b6c7d8 ${eni} 123456789010`;
      lines.push(
        nodata
          ? `${ids} - - - - - - - - - - ${start} ${start + 60} - - NODATA us-east-1 - - - -`
          : `${ids} ${v6 ? 'IPv6' : 'IPv4'} ${src} ${dst} ${sport} ${dport} ${src} ${dst} 6 ${bytes} ${packets} ${start} ${start + 60} ` +
              `${action} ${[2, 18, 19, 3, 0][pick(5)]} OK us-east-1 ${next() < 0.5 ? 'ingress' : 'egress'} ${1 + pick(8)} - -`,
      );
    }
  }
  const format = version === 2 ? defaultVpcFormat : vpcFormatFromHeader(v5Header);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  return { format, text, withHeader: Buffer.concat([Buffer.from(`${format.fields.join(' ')}\n`), text]) };
}

async function* chunksOf(data: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += chunkBytes) yield data.subarray(at, at + chunkBytes);
}

/** Lines cut and decoded, nothing else: the floor under any line parser. */
async function splitOnly(data: Buffer): Promise<number> {
  let count = 0;
  for await (const line of splitLines(chunksOf(data), 16 * 1024)) if (line.bytes.toString('utf8').length >= 0) count++;
  return count;
}

async function splitAndParse(data: Buffer, format: VpcFlowLogFormat): Promise<number> {
  let count = 0;
  for await (const line of splitLines(chunksOf(data), 16 * 1024)) {
    const result = parseVpcLine(format, line.bytes.toString('utf8'));
    if (result.kind === 'flow' || result.kind === 'skip') count++;
  }
  return count;
}

async function fileSource(path: string): Promise<number> {
  const source = new VpcFileSource({ paths: [path] });
  let count = 0;
  for await (const batch of source.batches()) {
    count += batch.flows.length;
    await source.commit(batch.position);
  }
  const { noData, problems } = source.counts;
  if (problems > 0) throw new Error(`${path}: ${problems} problems in generated data`);
  return count + noData;
}

/** Lines per second: one warm-up, then the median of the samples. */
async function rate(lines: number, run: () => Promise<number>): Promise<number> {
  for (let i = 0; i < warmups; i++) await run();
  const rates: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    const handled = await run();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (handled !== lines) throw new Error(`handled ${handled} of ${lines} lines`);
    rates.push(lines / seconds);
  }
  return rates.sort((a, b) => a - b)[Math.floor(samples / 2)]!;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flowsentry-bench-vpc-'));
  const figures: Figure[] = [];
  const settings: Record<string, unknown> = { lines: totalLines, warmups, samples, chunkBytes };
  try {
    for (const version of [2, 5] as const) {
      const data = generate(version);
      const label = `v${version}`;
      settings[`${label}BytesPerLine`] = Math.round(data.text.length / totalLines);
      const split = await rate(totalLines, () => splitOnly(data.text));
      figures.push({ name: `${label} split-lines`, value: split, unit: 'lines/s' });
      const parse = await rate(totalLines, () => splitAndParse(data.text, data.format));
      figures.push(withBaseline(`${label} split+parse`, parse, 'lines/s', `${label} split-lines`, split));
      const plain = join(dir, `${label}.log`);
      const gzip = join(dir, `${label}.log.gz`);
      await writeFile(plain, data.withHeader);
      await writeFile(gzip, gzipSync(data.withHeader));
      figures.push(withBaseline(`${label} file-source plain`, await rate(totalLines, () => fileSource(plain)), 'lines/s', `${label} split-lines`, split));
      figures.push(withBaseline(`${label} file-source gzip`, await rate(totalLines, () => fileSource(gzip)), 'lines/s', `${label} split-lines`, split));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  report('ingest-vpc', figures, settings);
}

await main();
