import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CollectConfigError, planCollect } from '../../../cli/collect-command.js';
import { logged, runCli, stoppedMetrics } from '../../support/cli.js';

const sample = readFileSync(new URL('../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url), 'utf8');

describe('CLI > collect', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-collect-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports every problem in the options at once, naming each option', () => {
    assert.throws(
      () => planCollect(['--source', 'calico-file', '--format', 'xml', '--bus', 'kafka', '--flows-per-message', 'many'], {}),
      (error: unknown) => {
        assert.ok(error instanceof CollectConfigError);
        assert.deepEqual(error.problems, [
          '--bus kafka: KAFKA_BROKERS is not set',
          "--flows-per-message: 'many' is not a positive integer",
          '--file: give exactly one Calico flow-log file',
          "--format: 'xml' is not text or json",
        ]);
        return true;
      },
    );
    assert.throws(() => planCollect(['--source', 'vpc-file', '--file', 'x', '--colour'], {}), /Unknown option '--colour'/);
    assert.throws(
      () => planCollect(['--source', 'conntrack', '--interval', '0', '--deny-set', 'inet/flowsentry'], {}),
      (error: unknown) =>
        error instanceof CollectConfigError &&
        error.problems.length === 3 &&
        error.problems.every((problem, i) => problem.startsWith(['--local', '--interval', '--deny-set'][i]!)),
    );
    const conntrack = planCollect(['--source', 'conntrack', '--local', '10.0.3.0/24', '--deny-set', 'inet/flowsentry/denied/rejects'], {});
    assert.deepEqual([conntrack.settings.intervalSeconds, conntrack.settings.aggregation], [10, 'no-source-port']);
  });

  it('picks Kafka when brokers are configured and JSON lines on stdout otherwise', () => {
    const file = ['--source', 'calico-file', '--file', 'flows.log'];
    assert.equal(planCollect(file, { KAFKA_BROKERS: 'k:9092' }).outlet, 'kafka');
    assert.equal(planCollect(file, {}).outlet, 'stdout');
    assert.equal(planCollect([...file, '--node', 'n1'], { NODE_NAME: 'ignored' }).settings.node, 'n1');
    assert.equal(planCollect(file, { NODE_NAME: 'ip-10-0-1-5' }).settings.node, 'ip-10-0-1-5');
  });

  it('turns the sample Calico flow logs into RawFlow records and a bad line into a dead letter naming file and line', async () => {
    const path = join(dir, 'flows.log');
    writeFileSync(path, `${sample.trimEnd()}\nnot a flow log line\n`);
    const result = await runCli(['collect', '--source', 'calico-file', '--file', path, '--node', 'node-a', '--bus', 'stdout']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { topic: string; key: string; type: string; record: Record<string, unknown> });
    const flows = lines.filter((line) => line.type === 'RawFlow');
    assert.equal(flows.length, 21);
    assert.ok(flows.every((line) => line.key === 'node-a' && line.topic === 'flowsentry.flows.raw.v1' && line.record.host === 'node-a'));
    assert.deepEqual(
      { ...flows[0]!.record, policies: undefined },
      { ...flows[0]!.record, policies: undefined, start_time: 1530810851000, end_time: 1530811157000, dest_port: 6379, bytes_in: 38100, bytes_out: 28140 },
    );
    const letters = lines.filter((line) => line.type === 'DeadLetter');
    assert.equal(letters.length, 1);
    assert.equal(letters[0]?.topic, 'flowsentry.deadletter.v1');
    assert.equal((letters[0]?.record.source as { line: number }).line, 22);
    assert.match(String(letters[0]?.record.message), new RegExp(`${path}:22.*expected 24 space-separated fields, found 5`));
    assert.match(stoppedMetrics(result.stderr, 'collect'), /flowsentry_ingest_flows_total\{source="[^"]+"\} 21/);
    assert.ok(logged(result.stderr, 'collect', 'input ended'), result.stderr);
  });
});
