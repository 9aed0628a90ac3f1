import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CloudWatchLogsClient, DeleteLogGroupCommand, DescribeLogGroupsCommand, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { formatCalicoText, parseCalicoText } from '../../ingest/calico-text.js';
import { awsClientSettings } from '../../runtime/aws.js';
import { endpointsFromEnv, type Endpoints } from '../../runtime/endpoints.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import type { Alert, EnrichedFlow, ResponseAction } from '../../schemas/types.js';
import { CloudWatchOutlet, type CloudWatchOutletOptions } from '../../sink/cloudwatch/cloudwatch-outlet.js';
import { OutletClosedError, type SinkItem } from '../../sink/outlet.js';
import { FaultProxy, drop, onOperation, pass, serviceUnavailable, throttling, type FaultAction } from '../support/fault-proxy.js';
import { uniqueName } from '../support/wait.js';

const endpoints = endpointsFromEnv();
const logs = new CloudWatchLogsClient(awsClientSettings(endpoints));
const sample = readFileSync(fileURLToPath(new URL('../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url)), 'utf8')
  .split('\n')
  .filter((line) => line !== '');
const nodes = ['ip-10-0-1-23.ec2.internal', 'ip-10-0-2-41.ec2.internal'];
const groups: string[] = [];
const fast = { backoff: { baseDelayMs: 1, maxDelayMs: 8 } };

after(async () => {
  for (const logGroupName of groups) await logs.send(new DeleteLogGroupCommand({ logGroupName })).catch(() => undefined);
  logs.destroy();
});

/** A seed line parsed as an enriched flow seen by `node`, its times moved `shiftSeconds` later. */
function seedFlow(line: string, node: string, shiftSeconds: number): EnrichedFlow {
  const raw = parseCalicoText(line, { host: node });
  const { source_labels, dest_labels, ...rest } = raw;
  return {
    ...rest,
    start_time: raw.start_time + shiftSeconds * 1000,
    end_time: raw.end_time + shiftSeconds * 1000,
    source_type: raw.source_type ?? 'net',
    source_name_aggr: raw.source_name_aggr ?? '-',
    ...(source_labels ? { source_labels } : {}),
    source_workload: null,
    dest_type: raw.dest_type ?? 'net',
    dest_name_aggr: raw.dest_name_aggr ?? '-',
    ...(dest_labels ? { dest_labels } : {}),
    dest_workload: null,
  };
}

/** The seed line with its start and end moved `shiftSeconds` later. */
function shiftedLine(line: string, shiftSeconds: number): string {
  const [start, end, ...rest] = line.split(' ');
  return [Number(start) + shiftSeconds, Number(end) + shiftSeconds, ...rest].join(' ');
}

/** Whole seconds that bring the seed's last end time to about a minute ago. */
function shiftToNow(): number {
  const lastEnd = Math.max(...sample.map((line) => Number(line.split(' ')[1])));
  return Math.floor(Date.now() / 1000) - 60 - lastEnd;
}

const flowItem = (record: EnrichedFlow): SinkItem => ({ record: { kind: 'flow', record } });

/** `count` flows one millisecond apart on one node, each line distinct (its bytes_out). */
function manyFlows(count: number, node: string, from = Date.now() - 30 * 60_000): EnrichedFlow[] {
  const base = seedFlow(sample[0]!, node, 0);
  return Array.from({ length: count }, (_, i) => ({ ...base, start_time: from + i - 5000, end_time: from + i, bytes_out: i }));
}

async function readStream(logGroupName: string, logStreamName: string): Promise<{ timestamp: number; message: string }[]> {
  const events: { timestamp: number; message: string }[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, ...(token ? { nextToken: token } : {}) }));
    for (const event of page.events ?? []) events.push({ timestamp: event.timestamp!, message: event.message! });
    if (!page.events?.length || page.nextForwardToken === token) return events;
    token = page.nextForwardToken;
  }
}

function outlet(options: Partial<CloudWatchOutletOptions> & { endpoint?: string } = {}): { outlet: CloudWatchOutlet; metrics: MetricsRegistry } {
  const metrics = new MetricsRegistry();
  const { endpoint, ...rest } = options;
  const target: Endpoints = endpoint ? { ...endpoints, awsEndpointUrl: endpoint } : endpoints;
  const created = new CloudWatchOutlet({ cluster: uniqueName('cw'), endpoints: target, metrics, ...fast, ...rest });
  groups.push(created.logGroup);
  return { outlet: created, metrics };
}

const counter = (metrics: MetricsRegistry, name: string, labels: Record<string, string> = {}) => metrics.counter(`flowsentry_sink_cloudwatch_${name}`, '').get(labels);

describe('Sink > CloudWatch > Outlet against moto', () => {
  it('creates the group with its retention and a stream per node, and the flows read back are the Calico lines', async () => {
    const { outlet: cw, metrics } = outlet({ emf: true, retentionDays: 7 });
    const shift = shiftToNow();
    const flows = sample.map((line, i) => seedFlow(line, nodes[i % 2]!, shift));
    const alert: Alert = {
      alert_id: 'alert-1',
      fingerprint: 'fp-1',
      detector: 'port-scan',
      severity: 'high',
      start_time: flows[0]!.start_time,
      end_time: flows[0]!.end_time,
      source_namespace: 'management-ui',
      summary: 'scan',
      count: 1,
    };
    const action: ResponseAction = {
      action_id: 'action-1',
      alert_id: 'alert-1',
      kind: 'quarantine',
      target: { kind: 'Pod', namespace: 'management-ui', name: 'management-ui-1' },
      dry_run: true,
      status: 'requested',
      requested_at: flows[0]!.end_time + 1,
    };
    try {
      const rejections = await cw.write([...flows.map(flowItem), { record: { kind: 'alert', record: alert } }, { record: { kind: 'action', record: action } }]);
      assert.deepEqual(rejections, []);

      const { logGroups } = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: cw.logGroup }));
      assert.equal(logGroups?.[0]?.logGroupName, cw.logGroup);
      assert.equal(logGroups?.[0]?.retentionInDays, 7);
      const { logStreams } = await logs.send(new DescribeLogStreamsCommand({ logGroupName: cw.logGroup }));
      assert.deepEqual(logStreams?.map((stream) => stream.logStreamName).sort(), [...nodes, 'flowsentry-actions', 'flowsentry-alerts', 'flowsentry-metrics'].sort());

      for (const [n, node] of nodes.entries()) {
        const expected = sample
          .map((line, i) => ({ line: shiftedLine(line, shift), flow: flows[i]!, i }))
          .filter(({ i }) => i % 2 === n)
          .sort((a, b) => a.flow.end_time - b.flow.end_time || a.i - b.i);
        const stored = await readStream(cw.logGroup, node);
        assert.deepEqual(
          stored.map((event) => event.message),
          expected.map(({ line }) => line),
        );
        assert.deepEqual(
          stored.map((event) => event.timestamp),
          expected.map(({ flow }) => flow.end_time),
        );
        for (const event of stored) assert.equal(formatCalicoText(parseCalicoText(event.message, { host: node })), event.message);
      }
      assert.deepEqual((await readStream(cw.logGroup, 'flowsentry-alerts')).map((event) => JSON.parse(event.message) as unknown), [alert]);
      assert.deepEqual((await readStream(cw.logGroup, 'flowsentry-actions')).map((event) => JSON.parse(event.message) as unknown), [action]);
      const emf = (await readStream(cw.logGroup, 'flowsentry-metrics')).map((event) => JSON.parse(event.message) as { Namespace: string; Flows: number; Alerts: number });
      const totalFlows = flows.reduce((sum, flow) => sum + flow.num_flows, 0);
      assert.equal(
        emf.reduce((sum, document) => sum + document.Flows, 0),
        totalFlows,
      );
      assert.equal(
        emf.reduce((sum, document) => sum + document.Alerts, 0),
        1,
      );
      assert.equal(counter(metrics, 'events_total', { kind: 'flow' }), sample.length);
      assert.equal(counter(metrics, 'events_total', { kind: 'alert' }), 1);
      assert.equal(counter(metrics, 'events_total', { kind: 'action' }), 1);
    } finally {
      await cw.close();
    }
  });

  it('lands a write of more than 10 000 events and more than 1 MiB complete and in order, in several batches', async () => {
    const { outlet: cw, metrics } = outlet();
    const flows = manyFlows(12_500, nodes[0]!);
    try {
      assert.ok(flows.reduce((bytes, flow) => bytes + Buffer.byteLength(formatCalicoText(flow)) + 26, 0) > 1_048_576);
      assert.deepEqual(await cw.write(flows.map(flowItem)), []);
      const stored = await readStream(cw.logGroup, nodes[0]!);
      assert.equal(stored.length, flows.length);
      assert.deepEqual(
        stored.map((event) => event.message),
        flows.map((flow) => formatCalicoText(flow)),
      );
      assert.ok(counter(metrics, 'batches_total', { kind: 'flow' }) >= 2);
    } finally {
      await cw.close();
    }
  });

  it('returns events older than 14 days as CLOUDWATCH_TOO_OLD rejections, counted, and the rest lands', async () => {
    const { outlet: cw, metrics } = outlet();
    const old = manyFlows(3, nodes[0]!, Date.now() - 20 * 86_400_000);
    const recent = manyFlows(5, nodes[0]!);
    try {
      const rejections = await cw.write([...recent, ...old].map(flowItem));
      assert.deepEqual(
        rejections.map((rejection) => [rejection.reason, rejection.item.record.record]),
        old.map((flow) => ['CLOUDWATCH_TOO_OLD', flow]),
      );
      assert.equal(counter(metrics, 'rejections_total', { reason: 'CLOUDWATCH_TOO_OLD' }), 3);
      assert.equal(counter(metrics, 'events_total', { kind: 'flow' }), 5);
      assert.deepEqual(
        (await readStream(cw.logGroup, nodes[0]!)).map((event) => event.message),
        recent.map((flow) => formatCalicoText(flow)),
      );
    } finally {
      await cw.close();
    }
  });

  it('refuses an oversized event and a batch the service refuses for good, as rejections with their reason', async () => {
    const proxy = await FaultProxy.start(endpoints.awsEndpointUrl!);
    const { outlet: cw, metrics } = outlet({ endpoint: proxy.url, format: 'json', limits: { maxEventBytes: 2_000 } });
    const [small, large] = manyFlows(2, nodes[0]!);
    const oversized = { ...large!, process_args: ['x'.repeat(3_000)] };
    try {
      const first = await cw.write([flowItem(small!), flowItem(oversized)]);
      assert.deepEqual(
        first.map((rejection) => [rejection.reason, rejection.item.record.record]),
        [['CLOUDWATCH_EVENT_TOO_LARGE', oversized]],
      );
      proxy.setPlan(onOperation('PutLogEvents', () => ({
        kind: 'respond',
        status: 400,
        body: JSON.stringify({ __type: 'InvalidParameterException', message: 'bad event' }),
        headers: { 'content-type': 'application/x-amz-json-1.1' },
      })));
      const second = await cw.write([flowItem(small!)]);
      assert.deepEqual(
        second.map((rejection) => rejection.reason),
        ['CLOUDWATCH_INVALID_PARAMETER'],
      );
      assert.equal(counter(metrics, 'rejections_total', { reason: 'CLOUDWATCH_INVALID_PARAMETER' }), 1);
      assert.equal(proxy.count('PutLogEvents'), 2, 'a permanent refusal is not retried');
    } finally {
      await cw.close();
      await proxy.close();
    }
  });

  it('retries throttling and 503s, from group creation on, with nothing lost', async () => {
    const faults: FaultAction[] = [throttling(), serviceUnavailable(), throttling(), throttling(), serviceUnavailable()];
    const proxy = await FaultProxy.start(endpoints.awsEndpointUrl!, (request) => {
      if (request.operation === 'CreateLogGroup' && proxy.count('CreateLogGroup') === 0) return throttling();
      if (request.operation === 'PutLogEvents') return faults.shift() ?? pass;
      return pass;
    });
    const { outlet: cw, metrics } = outlet({ endpoint: proxy.url, limits: { maxBatchEvents: 50 } });
    const flows = manyFlows(300, nodes[1]!);
    try {
      assert.deepEqual(await cw.write(flows.map(flowItem)), []);
      assert.deepEqual(
        (await readStream(cw.logGroup, nodes[1]!)).map((event) => event.message),
        flows.map((flow) => formatCalicoText(flow)),
      );
      assert.equal(counter(metrics, 'retries_total', { cause: 'throttling' }), 4);
      assert.equal(counter(metrics, 'retries_total', { cause: 'server_error' }), 2);
      assert.equal(proxy.count('PutLogEvents', 'respond'), 5);
    } finally {
      await cw.close();
      await proxy.close();
    }
  });

  /** Writes 600 flows in batches of 20 while every third PutLogEvents is carried out but its answer cut; returns the duplicates in the stream. */
  async function duplicatesWith(t: TestContext, readBack: boolean): Promise<{ duplicates: number; dropped: number; avoided: number; batches: number }> {
    const proxy = await FaultProxy.start(endpoints.awsEndpointUrl!, onOperation('PutLogEvents', (nth) => (nth % 3 === 1 ? drop : pass)));
    const { outlet: cw, metrics } = outlet({ endpoint: proxy.url, readBack, limits: { maxBatchEvents: 20 } });
    const flows = manyFlows(600, nodes[0]!);
    try {
      assert.deepEqual(await cw.write(flows.map(flowItem)), []);
      const stored = await readStream(cw.logGroup, nodes[0]!);
      const distinct = new Set(stored.map((event) => `${event.timestamp} ${event.message}`));
      assert.equal(distinct.size, flows.length, 'every flow landed');
      const result = {
        duplicates: stored.length - distinct.size,
        dropped: proxy.count('PutLogEvents', 'drop'),
        avoided: counter(metrics, 'duplicates_avoided_total'),
        batches: flows.length / 20,
      };
      t.diagnostic(`read-back ${readBack ? 'on' : 'off'}: ${result.batches} batches, ${result.dropped} answers cut, ${result.duplicates} duplicate events, ${result.avoided} retries skipped`);
      assert.ok(counter(metrics, 'retries_total', { cause: 'network' }) >= result.dropped);
      return result;
    } finally {
      await cw.close();
      await proxy.close();
    }
  }

  it('writes batches twice after cut answers without the read-back, and never with it', async (t) => {
    const without = await duplicatesWith(t, false);
    assert.ok(without.dropped > 0);
    assert.equal(without.duplicates, without.dropped * 20, 'each cut answer cost a whole batch written twice');
    const withReadBack = await duplicatesWith(t, true);
    assert.ok(withReadBack.dropped > 0);
    assert.equal(withReadBack.duplicates, 0);
    assert.equal(withReadBack.avoided, withReadBack.dropped);
  });

  it('close() ends the retries: the pending write rejects with OutletClosedError', async () => {
    const proxy = await FaultProxy.start(endpoints.awsEndpointUrl!, onOperation('PutLogEvents', () => throttling()));
    const { outlet: cw, metrics } = outlet({ endpoint: proxy.url, backoff: { baseDelayMs: 50, maxDelayMs: 50 } });
    try {
      const pending = cw.write(manyFlows(3, nodes[0]!).map(flowItem));
      while (counter(metrics, 'retries_total', { cause: 'throttling' }) < 2) await new Promise((resolveTick) => setTimeout(resolveTick, 5));
      await cw.close();
      await assert.rejects(pending, OutletClosedError);
      await assert.rejects(cw.write([]), OutletClosedError);
    } finally {
      await cw.close();
      await proxy.close();
    }
  });
});
