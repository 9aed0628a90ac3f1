import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { VpcFileSource, type VpcFilePosition, type VpcFileSourceOptions } from '../../../ingest/vpc-file-source.js';
import { vpcFormatFromHeader } from '../../../ingest/vpc-flow-log.js';
import type { ParseProblem, SourceBatch } from '../../../ingest/source.js';
import { codecFor } from '../../../schemas/codec.js';
import type { RawFlow } from '../../../schemas/types.js';

const fixture = (name: string) => fileURLToPath(new URL(`fixtures/vpc/${name}`, import.meta.url));
const codec = codecFor('RawFlow');

interface Read {
  readonly source: VpcFileSource;
  readonly batches: SourceBatch<VpcFilePosition>[];
  readonly flows: RawFlow[];
  readonly problems: ParseProblem[];
}

async function readAll(options: VpcFileSourceOptions, source = new VpcFileSource(options)): Promise<Read> {
  const batches: SourceBatch<VpcFilePosition>[] = [];
  for await (const batch of source.batches()) {
    batches.push(batch);
    await source.commit(batch.position);
  }
  const flows = batches.flatMap((batch) => batch.flows);
  for (const flow of flows) codec.encode(flow);
  return { source, batches, flows, problems: batches.flatMap((batch) => batch.problems) };
}

const ipsOf = (flows: readonly RawFlow[]) => flows.map((flow) => `${flow.source_ip}>${flow.dest_ip}`);

describe('Ingest > VPC flow logs > file source', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowsentry-vpc-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads a default-format file with its header, counting NODATA and SKIPDATA', async () => {
    const { flows, problems, source, batches } = await readAll({ paths: [fixture('default-v2.log')] });
    assert.deepEqual(problems, []);
    assert.equal(flows.length, 4);
    assert.deepEqual(
      flows.map((flow) => [flow.action, flow.proto, flow.dest_port]),
      [['allow', 6, 22], ['deny', 6, 3389], ['allow', 6, 22], ['allow', 1, 0]],
    );
    assert.equal(flows[2]!.source_ip, '2001:db8:1234:a100:8d6e:3477:df66:f105');
    assert.deepEqual(source.counts, { lines: 6, flows: 4, problems: 0, noData: 1, skipData: 1, headers: 1, blank: 0 });
    assert.deepEqual(batches.at(-1)!.position, { file: fixture('default-v2.log'), line: 7, done: true });
  });

  it('reads v3, v4 and v5 custom formats from their header lines', async () => {
    const v3 = await readAll({ paths: [fixture('custom-v3.log')] });
    assert.deepEqual(ipsOf(v3.flows), [
      '10.20.33.164>10.40.2.236',
      '10.40.2.236>10.20.33.164',
      '10.40.1.20>10.40.0.2',
      '2600:1f18:2eb:5e00::1a>2600:1f18:2eb:5e01::7',
    ]);
    assert.deepEqual(v3.flows.map((flow) => [flow.num_flows_started, flow.num_flows_completed]), [[1, 1], [0, 1], [0, 0], [0, 1]]);
    assert.equal(v3.flows[2]!.host, 'eni-0aa00bb11cc22dd33');

    const v4 = await readAll({ paths: [fixture('custom-v4.log')] });
    assert.deepEqual([v4.flows.length, v4.source.counts.noData, v4.problems.length], [2, 1, 0]);

    const v5 = await readAll({ paths: [fixture('custom-v5.log')] });
    assert.deepEqual(v5.problems, []);
    assert.deepEqual(
      v5.flows.map((flow) => [flow.reporter, flow.action, flow.bytes_in, flow.bytes_out]),
      [['src', 'allow', 0, 7482], ['dst', 'deny', 120, 0], ['dst', 'allow', 14400, 0]],
    );
    assert.deepEqual([v5.source.counts.noData, v5.source.counts.skipData], [1, 1]);
  });

  it('reads gzip files as S3 delivers them, told by their bytes, concatenated members included', async () => {
    const plain = await readAll({ paths: [fixture('custom-v5.log')] });
    const gzip = await readAll({ paths: [fixture('custom-v5.log.gz')] });
    assert.deepEqual(gzip.flows, plain.flows);
    const renamed = join(dir, 'no-extension');
    await writeFile(renamed, gzipSync('version protocol start end action\n2 6 1 2 ACCEPT\n'));
    assert.equal((await readAll({ paths: [renamed] })).flows.length, 1);
    const both = await readAll({ paths: [fixture('concatenated.log.gz')] });
    assert.deepEqual([both.flows.length, both.source.counts.headers, both.problems.length], [8, 2, 0]);
  });

  it('reports malformed lines with file:line and reason, and goes on', async () => {
    const path = fixture('malformed.log');
    const { flows, problems, source } = await readAll({ paths: [path] });
    assert.deepEqual(ipsOf(flows), ['172.31.16.139>172.31.16.21', '172.31.16.21>172.31.16.139', '10.0.0.5>10.0.0.6']);
    assert.deepEqual(
      problems.map((problem) => [problem.location.line, problem.reason]),
      [
        [3, 'INGEST_BAD_LINE'],
        [4, 'INGEST_BAD_FIELD'],
        [5, 'INGEST_BAD_FIELD'],
        [8, 'INGEST_BAD_FIELD'],
        [9, 'INGEST_BAD_FIELD'],
        [10, 'INGEST_BAD_FIELD'],
      ],
    );
    assert.equal(problems[1]!.message, `${path}:4: srcport 'http' is not a number`);
    assert.match(problems[0]!.message, /:3: expected 14 fields \(version 2 format\), found 13$/);
    assert.match(problems[2]!.message, /:5: version '7' does not match the format/);
    assert.ok(problems[1]!.original.toString().startsWith('2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 http'));
    assert.equal(problems.every((problem) => problem.location.source === path), true);
    assert.deepEqual([source.counts.blank, source.counts.problems, source.counts.lines], [1, 6, 10]);
  });

  it('cuts overlong lines, reports them, and reads the next line', async () => {
    const path = join(dir, 'long.log');
    await writeFile(path, `2 ${'9'.repeat(100_000)}\n2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n`);
    const { flows, problems } = await readAll({ paths: [path], maxLineBytes: 1_024 });
    assert.equal(flows.length, 1);
    assert.equal(problems.length, 1);
    assert.deepEqual([problems[0]!.location.line, problems[0]!.reason, problems[0]!.original.length], [1, 'INGEST_LINE_TOO_LONG', 1_024]);
    assert.match(problems[0]!.message, /longer than 1024 bytes/);
  });

  it('ends a truncated gzip file with one problem after its last line, then reads the next file', async () => {
    const truncated = fixture('truncated.log.gz');
    const { flows, problems, batches } = await readAll({ paths: [truncated, fixture('default-v2.log')] });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.reason, 'INGEST_BAD_FILE');
    assert.equal(problems[0]!.location.source, truncated);
    assert.match(problems[0]!.message, /gzip data is corrupt or truncated after line \d+/);
    assert.ok(flows.length >= 4, 'the next file is read whole');
    assert.deepEqual(batches.map((batch) => batch.position.done), [true, true]);
  });

  it('refuses a bad header line, then reads the file in the configured format', async () => {
    const path = join(dir, 'bad-header.log');
    await writeFile(path, 'version srcaddr dstaddr\n2 6 1 2 ACCEPT\n');
    const { flows, problems } = await readAll({ paths: [path], format: vpcFormatFromHeader('version protocol start end action') });
    assert.equal(flows.length, 1);
    assert.deepEqual([problems[0]!.location.line, problems[0]!.reason], [1, 'INGEST_BAD_HEADER']);
  });

  it('stops a missing file with its error: a configuration problem, not bad data', async () => {
    await assert.rejects(readAll({ paths: [join(dir, 'missing.log')] }), { code: 'ENOENT' });
  });

  it('yields bounded batches and resumes after the committed position, in this and a new source', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => `2 1 eni-1 10.0.0.1 10.0.0.2 ${1000 + i} 443 6 1 60 1 2 ACCEPT OK`);
    const first = join(dir, 'first.log.gz');
    const second = join(dir, 'second.log');
    await writeFile(first, gzipSync(`${lines.join('\n')}\n`));
    await writeFile(second, `${lines.slice(0, 5).join('\n')}\n`);
    const paths = [first, second];

    const source = new VpcFileSource({ paths, batchLines: 10 });
    const seen: number[] = [];
    for await (const batch of source.batches()) {
      assert.ok(batch.flows.length <= 10);
      seen.push(...batch.flows.map((flow) => flow.source_port!));
      if (seen.length === 20) {
        await source.commit(batch.position);
        break;
      }
    }
    assert.deepEqual(source.position, { file: first, line: 20, done: false });
    const rest = await readAll({ paths }, source);
    assert.deepEqual(rest.flows.map((flow) => flow.source_port), [1020, 1021, 1022, 1023, 1024, 1000, 1001, 1002, 1003, 1004]);

    const again = await readAll({ paths, resumeAfter: { file: first, line: 23, done: false } });
    assert.deepEqual(again.flows.length, 2 + 5);
    const after = await readAll({ paths, resumeAfter: { file: first, line: 25, done: true } });
    assert.deepEqual(after.flows.length, 5);
    assert.throws(() => new VpcFileSource({ paths, resumeAfter: { file: 'elsewhere', line: 1, done: false } }), { code: 'INGEST_BAD_POSITION' });
  });

  it('keeps the committed position in a checkpoint file, and a new source resumes after it', async () => {
    const checkpointPath = join(dir, 'checkpoints', 'vpc.json');
    const paths = [fixture('default-v2.log'), fixture('custom-v3.log')];
    const first = new VpcFileSource({ paths, checkpointPath, batchLines: 2, fsync: false });
    for await (const batch of first.batches()) {
      await first.commit(batch.position);
      if (batch.position.line >= 4) break;
    }
    assert.deepEqual(JSON.parse(await readFile(checkpointPath, 'utf8')), { file: paths[0], line: 4, done: false });
    const rest = await readAll({ paths, checkpointPath, fsync: false });
    assert.deepEqual(ipsOf(rest.flows).slice(0, 2), ['2001:db8:1234:a100:8d6e:3477:df66:f105>2001:db8:1234:a102:3304:8879:34cf:4071', '203.0.113.12>172.31.16.139']);
    assert.equal(rest.flows.length, 2 + 4);
    assert.deepEqual(JSON.parse(await readFile(checkpointPath, 'utf8')), { file: paths[1], line: 5, done: true });
    assert.equal((await readAll({ paths, checkpointPath, fsync: false })).flows.length, 0, 'everything was committed');

    await writeFile(checkpointPath, '{"file": 3}');
    await assert.rejects(readAll({ paths, checkpointPath }), { code: 'INGEST_BAD_CHECKPOINT' });
    await writeFile(checkpointPath, JSON.stringify({ file: 'gone.log', line: 1, done: false }));
    await assert.rejects(readAll({ paths, checkpointPath }), { code: 'INGEST_BAD_POSITION' });
  });

  it('stops at close', async () => {
    const source = new VpcFileSource({ paths: [fixture('default-v2.log'), fixture('custom-v3.log')], batchLines: 1 });
    let batches = 0;
    for await (const batch of source.batches()) {
      batches++;
      await source.commit(batch.position);
      await source.close();
    }
    assert.equal(batches, 1);
  });
});
