import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ConntrackFileSource, type ConntrackFileSourceOptions } from '../../../ingest/conntrack-file-source.js';
import type { SourceBatch } from '../../../ingest/source.js';
import { codecFor } from '../../../schemas/codec.js';
import type { RawFlow } from '../../../schemas/types.js';

const fixture = fileURLToPath(new URL('fixtures/conntrack/events.log', import.meta.url));
const codec = codecFor('RawFlow');
const T = 1_700_000_000_000;

async function readAll(source: ConntrackFileSource): Promise<SourceBatch<number>[]> {
  const batches: SourceBatch<number>[] = [];
  for await (const batch of source.batches()) {
    batches.push(batch);
    await source.commit(batch.position);
  }
  for (const flow of batches.flatMap((batch) => batch.flows)) codec.encode(flow);
  return batches;
}

/** The fields a test looks at, in a fixed order. */
const view = (f: RawFlow) => ({
  interval: [f.start_time - T, f.end_time - T],
  reporter: f.reporter,
  proto: f.proto,
  source: `${f.source_ip} ${f.source_port}`,
  dest: `${f.dest_ip} ${f.dest_port}`,
  out: [f.bytes_out, f.packets_out],
  in: [f.bytes_in, f.packets_in],
  flows: [f.num_flows, f.num_flows_started, f.num_flows_completed],
});

const destroy = (seconds: string, sport: number, bytes = 100) =>
  `[${seconds}]\t[DESTROY] ipv4     2 tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=${sport} dport=80 packets=1 bytes=${bytes} src=10.0.0.2 dst=10.0.0.1 sport=80 dport=${sport} packets=1 bytes=50 [ASSURED] mark=0 zone=0 id=${sport}`;

describe('Ingest > conntrack > file source (replay)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowsentry-conntrack-file-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('turns DESTROY events into flows per interval of event time, seen from the originator', async () => {
    const source = new ConntrackFileSource({ path: fixture, host: 'node-a', level: 'tuple' });
    const batches = await readAll(source);
    assert.deepEqual(
      batches.map((batch) => batch.position),
      [5, 6, 10],
    );
    assert.deepEqual(batches[0]!.flows.map(view), [
      { interval: [0, 10_000], reporter: 'src', proto: 6, source: '10.0.0.1 40000', dest: '10.0.0.2 80', out: [400, 5], in: [600, 4], flows: [1, 1, 1] },
      { interval: [0, 10_000], reporter: 'src', proto: 17, source: '10.0.0.1 5353', dest: '10.0.0.3 53', out: [70, 1], in: [120, 1], flows: [1, 1, 1] },
    ]);
    assert.deepEqual(batches[1]!.flows.map(view), [
      // after DNAT: the pod that answered, not the service address
      { interval: [10_000, 20_000], reporter: 'src', proto: 6, source: '10.0.0.4 41000', dest: '10.0.0.2 8443', out: [2000, 10], in: [9000, 8], flows: [1, 1, 1] },
    ]);
    assert.deepEqual(batches[2]!.flows.map(view), [
      // [20 s, 30 s] had no event; the NTP tuple was used twice (no ids): two connections, not a duplicate
      { interval: [30_000, 40_000], reporter: 'src', proto: 17, source: '10.0.0.1 123', dest: '10.0.0.5 123', out: [228, 3], in: [228, 3], flows: [2, 2, 2] },
      { interval: [30_000, 40_000], reporter: 'src', proto: 17, source: 'fd00::1 5000', dest: 'fd00::2 6000', out: [200, 2], in: [0, 0], flows: [1, 1, 1] },
    ]);
    assert.ok(batches.flatMap((batch) => batch.flows).every((flow) => flow.host === 'node-a' && flow.origin === 'conntrack' && flow.action === 'allow'));
    const stats = source.stats();
    assert.deepEqual(
      { ...stats, collector: undefined },
      { lines: 10, blank: 0, notices: 1, events: 7, destroyEvents: 6, ignoredEvents: 1, lateEvents: 0, reportedWhereBegun: 0, problems: 2, collector: undefined },
    );
    assert.equal(stats.collector!.notLocal, 0);
    assert.equal(source.countsByName().collector_connections_duplicateDestroys, 0);
  });

  it('reports a bad line and a line without a timestamp as problems naming the file and line, and goes on', async () => {
    const batches = await readAll(new ConntrackFileSource({ path: fixture, host: 'node-a' }));
    const problems = batches.flatMap((batch) => batch.problems);
    assert.deepEqual(
      problems.map((problem) => [problem.location.source, problem.location.line, problem.reason]),
      [
        [fixture, 4, 'INGEST_BAD_FIELD'],
        [fixture, 5, 'INGEST_MISSING_FIELD'],
      ],
    );
    assert.deepEqual(batches[0]!.problems, problems, 'delivered with the interval their lines fall in');
    assert.equal(problems[0]!.message, `${fixture}:4: sport=http is not a number in 0..65535`);
    assert.match(problems[1]!.message, /:5: no \[seconds\.microseconds\] timestamp: replay needs .*conntrack -E -o timestamp/);
    assert.ok(problems[0]!.original.toString().startsWith('[1700000008.000000]\t[DESTROY] ipv4'));
    assert.equal(batches.flatMap((batch) => batch.flows).length, 5);
  });

  it('gives the same output on every read, from the same source or a new one, plain or gzip', async () => {
    const options: ConntrackFileSourceOptions = { path: fixture, host: 'node-a', level: 'tuple' };
    const source = new ConntrackFileSource(options);
    const first = await readAll(source);
    assert.deepEqual(await readAll(source), first);
    assert.deepEqual(await readAll(new ConntrackFileSource(options)), first);
    const gz = join(dir, 'events.log.gz');
    await writeFile(gz, gzipSync(await readFile(fixture)));
    const gzipped = await readAll(new ConntrackFileSource({ ...options, path: gz }));
    assert.deepEqual(
      gzipped.map((batch) => ({ ...batch, problems: batch.problems.map((p) => [p.location.line, p.reason]) })),
      first.map((batch) => ({ ...batch, problems: batch.problems.map((p) => [p.location.line, p.reason]) })),
    );
  });

  it('applies the collector rules when local endpoints are given: both ends, ingress, not local', async () => {
    const source = new ConntrackFileSource({ path: fixture, host: 'node-a', local: ['10.0.0.2'] });
    const batches = await readAll(source);
    assert.deepEqual(
      batches.map((batch) => [batch.position, batch.flows.map(view)]),
      [
        [5, [{ interval: [0, 10_000], reporter: 'dst', proto: 6, source: '10.0.0.1 null', dest: '10.0.0.2 80', out: [600, 4], in: [400, 5], flows: [1, 1, 1] }]],
        [6, [{ interval: [10_000, 20_000], reporter: 'dst', proto: 6, source: '10.0.0.4 null', dest: '10.0.0.2 8443', out: [9000, 8], in: [2000, 10], flows: [1, 1, 1] }]],
      ],
    );
    assert.equal(source.stats().collector!.notLocal, 4);
    const both = (await readAll(new ConntrackFileSource({ path: fixture, host: 'node-a', local: ['10.0.0.0/24'] })))[0]!.flows;
    assert.deepEqual(
      both.map((flow) => [flow.reporter, flow.dest_ip]),
      [['src', '10.0.0.2'], ['dst', '10.0.0.2'], ['src', '10.0.0.3'], ['dst', '10.0.0.3']],
    );
  });

  it('adds an event timed before the open interval to it, and skips empty intervals', async () => {
    const path = join(dir, 'late.log');
    await writeFile(path, [destroy('1700000031.0', 1000), destroy('1700000029.0', 1001), destroy('1700000095.5', 1002)].join('\n'));
    const source = new ConntrackFileSource({ path, host: 'n', level: 'tuple', intervalMs: 60_000 });
    const batches = await readAll(source);
    assert.deepEqual(
      batches.map((batch) => [batch.position, batch.flows.map((f) => [f.start_time - T, f.end_time - T, f.source_port])]),
      [
        [2, [[-20_000, 40_000, 1000], [-20_000, 40_000, 1001]]],
        [3, [[40_000, 100_000, 1002]]],
      ],
    );
    assert.equal(source.stats().lateEvents, 0, 'within the aligned interval: not late');
    const back = join(dir, 'back.log');
    await writeFile(back, [destroy('1700000005.0', 1), destroy('1700000010.0', 2), destroy('1700000009.0', 3), destroy('1700000055.0', 4), ''].join('\n'));
    const late = new ConntrackFileSource({ path: back, host: 'n', level: 'tuple' });
    const lateBatches = await readAll(late);
    assert.deepEqual(
      lateBatches.map((batch) => batch.flows.map((f) => [f.start_time - T, f.source_port])),
      [[[0, 1]], [[10_000, 2], [10_000, 3]], [[50_000, 4]]],
    );
    assert.equal(late.stats().lateEvents, 1);
  });

  it('reports a connection in the interval where its NEW event was, not where it ended (its identity is whoever held the address then)', async () => {
    const path = join(dir, 'long.log');
    const opened = (seconds: string, sport: number) =>
      `[${seconds}]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=${sport} dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=${sport} mark=0 zone=0 id=${sport}`;
    await writeFile(path, [opened('1700000001.0', 2000), opened('1700000032.0', 2001), destroy('1700000033.0', 2001), destroy('1700000035.0', 2000), destroy('1700000036.0', 2002), ''].join('\n'));
    const source = new ConntrackFileSource({ path, host: 'n', level: 'tuple' });
    const batches = await readAll(source);
    assert.deepEqual(
      batches.map((batch) => batch.flows.map((f) => [f.start_time - T, f.end_time - T, f.source_port, f.num_flows_started, f.num_flows_completed])),
      [[[30_000, 40_000, 2001, 1, 1], [30_000, 40_000, 2002, 1, 1], [0, 10_000, 2000, 1, 1]]],
      'the connection opened at 1 s and ended at 35 s comes out in [0, 10 s), after the records of [30 s, 40 s)',
    );
    assert.equal(source.stats().reportedWhereBegun, 1);
  });

  it('does not trust an hour-old NEW found by tuple alone (a DESTROY may have been lost)', async () => {
    const path = join(dir, 'stale.log');
    const tcp = (event: string, seconds: string, counters: string) =>
      `[${seconds}]\t[${event}] ipv4     2 tcp      6 src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 ${counters} src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 ${counters} mark=0 zone=0`;
    await writeFile(path, [tcp('NEW', '1700000001.0', ''), tcp('DESTROY', '1700003605.0', 'packets=1 bytes=60'), ''].join('\n'));
    const source = new ConntrackFileSource({ path, host: 'n', level: 'tuple' });
    const flows = (await readAll(source)).flatMap((batch) => batch.flows);
    assert.deepEqual(flows.map((f) => f.start_time - T), [3_600_000]);
    assert.equal(source.stats().reportedWhereBegun, 0);
  });

  it('sends problems out in bounded batches when no interval closes', async () => {
    const path = join(dir, 'no-timestamps.log');
    const line = destroy('x', 1).replace('[x]\t', '');
    await writeFile(path, `${Array.from({ length: 2_500 }, () => line).join('\n')}\n`);
    const batches = await readAll(new ConntrackFileSource({ path, host: 'n' }));
    assert.deepEqual(
      batches.map((batch) => [batch.position, batch.flows.length, batch.problems.length]),
      [[1_000, 0, 1_000], [2_000, 0, 1_000], [2_500, 0, 500]],
    );
    assert.ok(batches.every((batch) => batch.problems.every((p) => p.reason === 'INGEST_MISSING_FIELD')));
  });

  it('reports lines that are not events, and counts blank lines', async () => {
    const path = join(dir, 'listing.log');
    const listed = 'ipv4     2 tcp      6 100 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=80 packets=1 bytes=60 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=1 packets=1 bytes=60 [ASSURED] mark=0 use=1 id=7';
    await writeFile(path, `${listed}\n\n  \r\n${destroy('1700000001.0', 9)}\r\n`);
    const source = new ConntrackFileSource({ path, host: 'n' });
    const [batch, ...rest] = await readAll(source);
    assert.deepEqual(rest, []);
    assert.deepEqual([batch!.flows.length, batch!.position], [1, 4]);
    assert.deepEqual(batch!.problems.map((p) => [p.location.line, p.reason]), [[1, 'INGEST_BAD_LINE']]);
    assert.match(batch!.problems[0]!.message, /:1: not a conntrack event/);
    assert.equal(source.stats().blank, 2);
  });

  it('ends at close without the open interval; an empty file yields nothing; a missing one fails', async () => {
    const source = new ConntrackFileSource({ path: fixture, host: 'n' });
    const seen: SourceBatch<number>[] = [];
    for await (const batch of source.batches()) {
      seen.push(batch);
      await source.close();
    }
    assert.deepEqual(seen.map((batch) => batch.position), [5]);
    const empty = join(dir, 'empty.log');
    await writeFile(empty, '');
    assert.deepEqual(await readAll(new ConntrackFileSource({ path: empty, host: 'n' })), []);
    await assert.rejects(readAll(new ConntrackFileSource({ path: join(dir, 'missing.log'), host: 'n' })), { code: 'ENOENT' });
  });

  it('refuses bad options when built', () => {
    const path = fixture;
    assert.throws(() => new ConntrackFileSource({ path, host: 'n', intervalMs: 0 }), RangeError);
    assert.throws(() => new ConntrackFileSource({ path, host: 'n', intervalMs: 1.5 }), RangeError);
    assert.throws(() => new ConntrackFileSource({ path, host: 'n', local: [] }), RangeError);
    assert.throws(() => new ConntrackFileSource({ path, host: 'n', local: ['10.0.0.0/33'] }), /bad prefix length/);
    assert.throws(() => new ConntrackFileSource({ path, host: 'n', level: 'five-tuple' as 'tuple' }), /level/);
  });
});
