import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { fromJson } from '../../../schemas/json.js';
import type { EnrichedFlow } from '../../../schemas/types.js';
import { runCli } from '../../support/cli.js';
import { pod, watchLine } from '../../support/kubernetes-objects.js';

const fixture = (name: string) => fileURLToPath(new URL(`../enrich/fixtures/${name}`, import.meta.url));
const conntrackEvents = fileURLToPath(new URL('../ingest/fixtures/conntrack/events.log', import.meta.url));
const seed = fileURLToPath(new URL('../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url));

function readRecords(path: string): EnrichedFlow[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => fromJson('EnrichedFlow', JSON.parse(line)));
}

describe('CLI > replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-replay-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const reuseArgs = (out: string) => [
    'replay',
    '--flows', fixture('ip-reuse.vpc.log'),
    '--inventory', fixture('cluster.list.json'),
    '--inventory', fixture('ip-reuse.watch.jsonl'),
    '--network', 'aws=52.94.0.0/22,3.5.140.0/22',
    '--allowed-level', '0',
    '--denied-level', '0',
    '--enriched-out', out,
  ];

  it('attributes every flow to who held the address at its time, across an IP reuse', async () => {
    const out = join(dir, 'reuse.jsonl');
    const result = await runCli(reuseArgs(out));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /replay: 7 flows in, 7 enriched records out, 10 inventory events \(1 of other kinds skipped\), 2 dead letters, 1 unknown ends, 0 address conflicts/);
    const records = readRecords(out);
    const bySourcePort = new Map(records.map((record) => [record.source_port, record]));
    const source = (port: number) => {
      const record = bySourcePort.get(port)!;
      return [record.source_type, record.source_namespace, record.source_name, record.source_workload, record.source_resolution];
    };
    assert.deepEqual(source(40001), ['wep', 'payments', 'api-6c8f7d9b4-x2k9q', 'deployment/api', 'inventory']);
    assert.deepEqual(source(40002), ['net', null, null, null, 'unknown'], 'between the two pods nobody held the address');
    assert.deepEqual(source(40003), ['wep', 'attacker', 'shell', 'pod/shell', 'inventory'], 'the reused address belongs to the new pod');
    const late = bySourcePort.get(50000)!;
    assert.deepEqual([late.source_name, late.source_workload], ['worker-0', 'statefulset/worker'], 'a pod seen within the grace after its flow');
    assert.deepEqual([late.dest_service_namespace, late.dest_service_name, late.dest_service_port, late.dest_service_port_num], ['kube-system', 'kube-dns', 'dns', 53]);
    const toPod = bySourcePort.get(50001)!;
    assert.deepEqual([toPod.dest_name, toPod.dest_service_name, toPod.dest_service_port], ['coredns-5d78c9869d-q2w3e', 'kube-dns', 'dns']);
    const node = bySourcePort.get(41000)!;
    assert.deepEqual([node.source_type, node.source_name, node.source_labels, node.dest_type, node.dest_name_aggr], ['hep', 'ip-10-0-1-10.ec2.internal', { 'topology.kubernetes.io/zone': 'us-east-1a' }, 'net', 'aws']);
    const resolver = bySourcePort.get(42000)!;
    assert.deepEqual([resolver.source_name_aggr, resolver.dest_type, resolver.dest_name_aggr], ['frontend-7d9f8c6b5d-*', 'net', 'pub']);

    const letters = readFileSync(`${out}.deadletter.jsonl`, 'utf8').trim().split('\n').map((line) => fromJson('DeadLetter', JSON.parse(line)));
    assert.deepEqual(letters.map((letter) => [letter.stage, letter.record_type, letter.reason, letter.source.line]), [
      ['enrich', 'InventoryEvent', 'ENRICH_BAD_OBJECT', 5],
      ['ingest', 'RawFlow', 'INGEST_BAD_FIELD', 8],
    ]);
    assert.match(letters[0]!.message, /ip-reuse\.watch\.jsonl:5: Pod broken: metadata\.uid missing/);
  });

  it('gives the same output for the same input', async () => {
    const [first, second] = [join(dir, 'first.jsonl'), join(dir, 'second.jsonl')];
    assert.equal((await runCli(reuseArgs(first))).code, 0);
    assert.equal((await runCli(reuseArgs(second))).code, 0);
    assert.equal(readFileSync(first, 'utf8'), readFileSync(second, 'utf8'));
  });

  it("keeps the seed sample's identity and aggregated names as given, at the default levels", async () => {
    const out = join(dir, 'seed.jsonl');
    const result = await runCli(['replay', '--flows', seed, '--enriched-out', out]);
    assert.equal(result.code, 0, result.stderr);
    const records = readRecords(out);
    const lines = readFileSync(seed, 'utf8').split('\n').filter((line) => line !== '');
    assert.equal(records.length, lines.length);
    records.forEach((record, index) => {
      const fields = lines[index]!.split(' ');
      assert.equal(record.source_name_aggr, fields[4]);
      assert.equal(record.dest_name_aggr, fields[8]);
      assert.equal(record.source_resolution, 'reported');
    });
  });

  it('reads recorded conntrack events (format detected from the first line), pods by their addresses', async () => {
    const out = join(dir, 'conntrack.jsonl');
    const inventory = join(dir, 'conntrack-pods.json');
    writeFileSync(inventory, JSON.stringify({ kind: 'List', items: [pod({ name: 'client', namespace: 'shop', ip: '10.0.0.1' }), pod({ name: 'web', namespace: 'shop', ip: '10.0.0.2' })] }));
    const result = await runCli(['replay', '--flows', conntrackEvents, '--inventory', inventory, '--enriched-out', out, '--allowed-level', '0']);
    assert.equal(result.code, 0, result.stderr);
    const first = readRecords(out)[0]!;
    assert.deepEqual([first.origin, first.source_name, first.dest_name, first.dest_port, first.bytes_out], ['conntrack', 'client', 'web', 80, 400]);
    assert.match(result.stderr, /2 dead letters/);
  });

  it('gives a conntrack connection that outlived its pod to that pod, not to the next holder of the address', async () => {
    const t = 1_700_000_000;
    const events = join(dir, 'outlived.log');
    writeFileSync(events, [
      `[${t + 1}.000000]\t    [NEW] ipv4     2 udp      17 30 src=10.0.0.7 dst=10.0.0.2 sport=5353 dport=53 [UNREPLIED] src=10.0.0.2 dst=10.0.0.7 sport=53 dport=5353 mark=0 zone=0 id=9`,
      `[${t + 31}.000000]\t[DESTROY] ipv4     2 udp      17 src=10.0.0.7 dst=10.0.0.2 sport=5353 dport=53 packets=1 bytes=70 src=10.0.0.2 dst=10.0.0.7 sport=53 dport=5353 packets=1 bytes=120 mark=0 zone=0 id=9`,
      '',
    ].join('\n'));
    const a = pod({ name: 'a', namespace: 'payments', ip: '10.0.0.7' });
    const b = pod({ name: 'b', namespace: 'attacker', ip: '10.0.0.7' });
    const watch = join(dir, 'outlived.watch.jsonl');
    writeFileSync(watch, [watchLine(t * 1000, 'ADDED', a), watchLine((t + 5) * 1000, 'DELETED', a), watchLine((t + 10) * 1000, 'ADDED', b), ''].join('\n'));
    const out = join(dir, 'outlived.jsonl');
    const result = await runCli(['replay', '--flows', events, '--inventory', watch, '--enriched-out', out, '--allowed-level', '0']);
    assert.equal(result.code, 0, result.stderr);
    const [record] = readRecords(out);
    assert.deepEqual([record?.source_namespace, record?.source_name, record?.start_time], ['payments', 'a', t * 1000]);
  });

  it('fails with the path when the output cannot be written', async () => {
    const result = await runCli(['replay', '--flows', seed, '--enriched-out', join(dir, 'no-such-dir', 'out.jsonl')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ENOENT: no such file or directory, open '.*no-such-dir\/out\.jsonl'/);
  });

  it('names every problem in the options at once', async () => {
    const result = await runCli(['replay', '--format', 'xml', '--allowed-level', '7', '--network', 'aws=1.2.3.4/99', '--grace', 'soon', '--retention', '1', '--inventory', 'missing.json']);
    assert.equal(result.code, 2);
    for (const expected of [
      '--flows: give at least one flow file',
      '--enriched-out: missing',
      "--format: 'xml' is not one of",
      '--allowed-level: expected an aggregation level',
      "network 'aws': '1.2.3.4/99' is not",
      "--grace: 'soon' is not a number of seconds",
      '--retention: 1 s keeps ended claims no longer than the grace',
      'missing.json: no such file',
    ]) {
      assert.ok(result.stderr.includes(expected), `${expected} in\n${result.stderr}`);
    }
  });
});
