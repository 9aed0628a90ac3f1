import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCalicoJson } from '../../../../ingest/calico-json.js';
import { parseCalicoText } from '../../../../ingest/calico-text.js';
import { codecFor } from '../../../../schemas/codec.js';
import type { Alert, EnrichedFlow, RawFlow, ResponseAction } from '../../../../schemas/types.js';
import { alertLogEvent, actionLogEvent, flowLogEvent, formatFlowLine, sinkRecordLogEvent } from '../../../../sink/cloudwatch/flow-lines.js';

const sampleFile = fileURLToPath(new URL('../../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url));
const sample = readFileSync(sampleFile, 'utf8').split('\n').filter((line) => line !== '');
const host = 'ip-10-0-1-23.ec2.internal';

/**
 * What the enricher makes of a parsed flow: the EnrichedFlow-only fields filled, nothing of the
 * line changed, then through Avro as the sink reads it (labels the line left out become `{}`).
 */
function enrichedOf(raw: RawFlow): EnrichedFlow {
  const { source_labels, dest_labels, ...rest } = raw;
  const codec = codecFor('EnrichedFlow');
  return codec.decode(codec.encode({
    ...rest,
    source_type: raw.source_type ?? 'net',
    source_name_aggr: raw.source_name_aggr ?? '-',
    ...(source_labels ? { source_labels } : {}),
    source_service_account: raw.source_type === 'wep' ? 'default' : null,
    source_node: raw.source_type === 'wep' ? 'ip-10-0-1-50.ec2.internal' : null,
    source_workload: raw.source_type === 'wep' ? `deployment/${raw.source_name_aggr ?? 'x'}` : null,
    source_resolution: raw.source_type === 'net' ? 'network' : 'reported',
    dest_type: raw.dest_type ?? 'net',
    dest_name_aggr: raw.dest_name_aggr ?? '-',
    ...(dest_labels ? { dest_labels } : {}),
    dest_service_account: null,
    dest_node: null,
    dest_workload: null,
    dest_resolution: raw.dest_type === 'net' ? 'network' : 'inventory',
  }));
}

const flows = sample.map((line) => enrichedOf(parseCalicoText(line, { host })));

/** The RawFlow part of an enriched flow, as parseCalicoJson returns it. */
function rawPart(flow: EnrichedFlow): RawFlow {
  const raw = parseCalicoText(formatFlowLine(flow, 'calico'), { host: flow.host });
  return { ...raw, source_labels: flow.source_labels ?? null, dest_labels: flow.dest_labels ?? null };
}

const alert: Alert = {
  alert_id: 'a-1',
  fingerprint: 'fp',
  detector: 'port-scan',
  severity: 'high',
  start_time: 1_700_000_000_000,
  end_time: 1_700_000_060_000,
  source_namespace: 'stars',
  summary: 'scan of 40 ports',
  count: 40,
};

const action: ResponseAction = {
  action_id: 'r-1',
  alert_id: 'a-1',
  kind: 'quarantine',
  target: { kind: 'Pod', namespace: 'stars', name: 'backend-1' },
  dry_run: true,
  status: 'requested',
  requested_at: 1_700_000_061_000,
};

describe('Sink > CloudWatch > Flow lines', () => {
  it('writes every line of the shared Calico sample back byte-identical, through the sink path', () => {
    assert.equal(sample.length, 21);
    for (const [index, line] of sample.entries()) {
      const event = sinkRecordLogEvent({ kind: 'flow', record: flows[index]! }, 'calico');
      assert.equal(event.message, line, `line ${index + 1}`);
      assert.equal(event.timestamp, flows[index]!.end_time);
    }
  });

  it('writes JSON lines that parseCalicoJson reads back to the same RawFlow', () => {
    for (const [index, flow] of flows.entries()) {
      const line = formatFlowLine(flow, 'json');
      assert.ok(!line.includes('\n'), 'one line');
      assert.deepEqual(parseCalicoJson(line), rawPart(flow), `line ${index + 1}`);
    }
  });

  it('keeps milliseconds, labels, policies, service and process fields in JSON', () => {
    const flow: EnrichedFlow = {
      ...flows[0]!,
      start_time: 1_700_000_000_123,
      end_time: 1_700_000_005_987,
      source_labels: { app: 'a=b', 'k8s.io/x': 'y' },
      dest_labels: {},
      policies: ['0|default|stars/allow-ui|allow|0'],
      dest_service_namespace: 'stars',
      dest_service_name: 'backend',
      dest_service_port: 'redis',
      dest_service_port_num: 6379,
      process_name: 'redis-cli',
      process_id: '42',
      process_args: ['-h', 'backend'],
      tcp_mean_smooth_rtt: 1.5,
      tcp_lost_packets: 3,
    };
    const parsed = parseCalicoJson(formatFlowLine(flow, 'json'));
    assert.equal(parsed.start_time, flow.start_time);
    assert.equal(parsed.end_time, flow.end_time);
    assert.deepEqual(parsed.source_labels, flow.source_labels);
    assert.deepEqual(parsed.dest_labels, {});
    assert.deepEqual(parsed.policies, flow.policies);
    assert.equal(parsed.dest_service_port, 'redis');
    assert.equal(parsed.dest_service_port_num, 6379);
    assert.deepEqual([parsed.process_name, parsed.process_id, parsed.process_args], ['redis-cli', '42', ['-h', 'backend']]);
    assert.deepEqual([parsed.tcp_mean_smooth_rtt, parsed.tcp_lost_packets], [1.5, 3]);
    const record = JSON.parse(formatFlowLine(flow, 'json')) as Record<string, unknown>;
    assert.equal(record['source_workload'], flow.source_workload);
    assert.equal(record['dest_resolution'], flow.dest_resolution);
    assert.equal(flowLogEvent(flow, 'json').timestamp, flow.end_time);
  });

  it('writes alerts at their end_time and actions at requested_at, as their JSON records', () => {
    assert.deepEqual(alertLogEvent(alert), { timestamp: alert.end_time, message: JSON.stringify(alert) });
    assert.deepEqual(actionLogEvent(action), { timestamp: action.requested_at, message: JSON.stringify(action) });
    assert.deepEqual(JSON.parse(sinkRecordLogEvent({ kind: 'alert', record: alert }, 'calico').message), alert);
    assert.deepEqual(JSON.parse(sinkRecordLogEvent({ kind: 'action', record: action }, 'json').message), action);
  });
});
