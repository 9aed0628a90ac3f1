import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calicoJsonParser, parseCalicoJson } from '../../../ingest/calico-json.js';
import { IngestError } from '../../../ingest/problems.js';
import { codecFor } from '../../../schemas/codec.js';
import type { RawFlow } from '../../../schemas/types.js';

const rawFlows = codecFor('RawFlow');

/** A flow log record as Calico Enterprise writes it to flows.log (one line). */
const enterprise = {
  start_time: 1530810851,
  end_time: 1530811157,
  source_ip: '10.0.1.17',
  source_name: 'frontend-7d9f8c6b5-x2k9q',
  source_name_aggr: 'frontend-7d9f8c6b5-*',
  source_namespace: 'stars',
  nat_outgoing_ports: null,
  source_port: 41234,
  source_type: 'wep',
  source_labels: { labels: ['app=frontend', 'pod-template-hash=7d9f8c6b5'] },
  dest_ip: '10.0.2.31',
  dest_name: '-',
  dest_name_aggr: 'backend-6b9c8d7f5-*',
  dest_namespace: 'stars',
  dest_port: 6379,
  dest_type: 'wep',
  dest_labels: { labels: ['role=backend'] },
  dest_service_namespace: 'stars',
  dest_service_name: 'backend',
  dest_service_port: 'redis',
  dest_service_port_num: 6379,
  dest_domains: null,
  proto: 'tcp',
  action: 'allow',
  reporter: 'src',
  policies: { all_policies: ['0|default|stars/default.allow-frontend|allow|0'] },
  bytes_in: 38100,
  bytes_out: 28140,
  num_flows: 85,
  num_flows_started: 83,
  num_flows_completed: 61,
  packets_in: 300,
  packets_out: 300,
  http_requests_allowed_in: 0,
  http_requests_denied_in: 0,
  process_name: '/usr/bin/redis-cli',
  num_process_names: 1,
  process_id: '1234',
  num_process_ids: 1,
  process_args: ['-h', 'backend'],
  num_process_args: 1,
  original_source_ips: null,
  num_original_source_ips: 0,
  tcp_mean_send_congestion_window: 10.5,
  tcp_min_send_congestion_window: 10,
  tcp_mean_smooth_rtt: 1250.25,
  tcp_max_smooth_rtt: 4012,
  tcp_mean_min_rtt: 80.5,
  tcp_max_min_rtt: 120,
  tcp_mean_mss: 1448,
  tcp_min_mss: 1448,
  tcp_total_retransmissions: 2,
  tcp_lost_packets: 0,
  tcp_unrecovered_to: 0,
  host: 'ip-10-0-1-23.ec2.internal',
  '@timestamp': 1530811157,
  cluster: 'prod',
};

const line = (changes: Record<string, unknown> = {}, base: Record<string, unknown> = enterprise) => JSON.stringify({ ...base, ...changes });
const parse = (text: string) => parseCalicoJson(text);
const without = (...keys: string[]) => Object.fromEntries(Object.entries(enterprise).filter(([key]) => !keys.includes(key)));

function assertRejects(text: string, code: string, field?: string) {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof IngestError, `an IngestError for ${text.slice(0, 80)}`);
      assert.equal(error.code, code, error.message);
      if (field !== undefined) assert.match(error.message, new RegExp(`field ${field}[: ]`));
      return true;
    },
  );
}

describe('Ingest > Calico JSON', () => {
  it('maps an Enterprise flow log record to a valid RawFlow', () => {
    const flow = parse(line());
    const expected: RawFlow = {
      start_time: 1530810851000,
      end_time: 1530811157000,
      origin: 'calico',
      host: 'ip-10-0-1-23.ec2.internal',
      source_ip: '10.0.1.17',
      source_port: 41234,
      source_type: 'wep',
      source_namespace: 'stars',
      source_name: 'frontend-7d9f8c6b5-x2k9q',
      source_name_aggr: 'frontend-7d9f8c6b5-*',
      source_labels: { app: 'frontend', 'pod-template-hash': '7d9f8c6b5' },
      dest_ip: '10.0.2.31',
      dest_port: 6379,
      dest_type: 'wep',
      dest_namespace: 'stars',
      dest_name: null,
      dest_name_aggr: 'backend-6b9c8d7f5-*',
      dest_labels: { role: 'backend' },
      dest_service_namespace: 'stars',
      dest_service_name: 'backend',
      dest_service_port: 'redis',
      dest_service_port_num: 6379,
      proto: 6,
      reporter: 'src',
      action: 'allow',
      policies: ['0|default|stars/default.allow-frontend|allow|0'],
      bytes_in: 38100,
      bytes_out: 28140,
      packets_in: 300,
      packets_out: 300,
      num_flows: 85,
      num_flows_started: 83,
      num_flows_completed: 61,
      process_name: '/usr/bin/redis-cli',
      process_id: '1234',
      process_args: ['-h', 'backend'],
      tcp_mean_send_congestion_window: 10.5,
      tcp_min_send_congestion_window: 10,
      tcp_mean_smooth_rtt: 1250.25,
      tcp_max_smooth_rtt: 4012,
      tcp_mean_min_rtt: 80.5,
      tcp_max_min_rtt: 120,
      tcp_mean_mss: 1448,
      tcp_min_mss: 1448,
      tcp_total_retransmissions: 2,
      tcp_lost_packets: 0,
      tcp_unrecovered_to: 0,
    };
    assert.deepEqual(flow, expected);
    assert.deepEqual(rawFlows.decode(rawFlows.encode(flow)), expected);
  });

  it('accepts the reasonable variants', () => {
    const variant = parse(
      line({
        start_time: '1530810851',
        end_time: 1530811157.5,
        proto: '17',
        reporter: 'out',
        action: 'D',
        source_ip: null,
        source_port: '-',
        source_labels: { app: 'frontend' },
        dest_labels: '[role=backend]',
        dest_type: 'pub',
        dest_name_aggr: '-',
        policies: ['a', 'b'],
        dest_service_port: 80,
        dest_service_port_num: null,
        process_id: 42,
        process_args: null,
        tcp_mean_smooth_rtt: null,
        tcp_max_smooth_rtt: '4012',
      }),
    );
    assert.deepEqual(
      [variant.start_time, variant.end_time, variant.proto, variant.reporter, variant.action, variant.source_ip, variant.source_port],
      [1530810851000, 1530811157500, 17, 'src', 'deny', null, null],
    );
    assert.deepEqual([variant.source_labels, variant.dest_labels], [{ app: 'frontend' }, { role: 'backend' }]);
    assert.deepEqual([variant.dest_type, variant.dest_name_aggr], ['net', 'pub']);
    assert.deepEqual(variant.policies, ['a', 'b']);
    assert.deepEqual([variant.dest_service_port, variant.dest_service_port_num], [null, 80]);
    assert.deepEqual([variant.process_id, variant.process_args, variant.tcp_mean_smooth_rtt, variant.tcp_max_smooth_rtt], ['42', [], null, 4012]);
    for (const proto of [6, 'TCP', 'udp', 'icmp', 'sctp', 'ipv6-icmp']) assert.doesNotThrow(() => parse(line({ proto })));
    assert.deepEqual(parse(line({ policies: { enforced_policies: ['x'] } })).policies, ['x']);
    assert.deepEqual(parse(line({ policies: { all_policies: null } })).policies, []);
    assert.equal(parse(line({ source_labels: { labels: null } })).source_labels, null);
  });

  it('takes host from the option when the record has none', () => {
    assert.equal(parseCalicoJson(line({ host: '-' }), { host: 'node-a' }).host, 'node-a');
    assert.equal(parseCalicoJson(JSON.stringify(without('host')), { host: 'node-a' }).host, 'node-a');
    assert.equal(parseCalicoJson(line(), { host: 'node-a' }).host, 'ip-10-0-1-23.ec2.internal');
    assertRejects(JSON.stringify(without('host')), 'INGEST_MISSING_FIELD', 'host');
  });

  it('rejects garbage with a code naming the field', () => {
    assertRejects('not json', 'INGEST_BAD_JSON');
    assertRejects('{"start_time":', 'INGEST_BAD_JSON');
    assertRejects('[1,2]', 'INGEST_BAD_LINE');
    assertRejects('null', 'INGEST_BAD_LINE');
    assertRejects('"flow"', 'INGEST_BAD_LINE');
    assertRejects(`${'['.repeat(5000)}${']'.repeat(5000)}`, 'INGEST_BAD_JSON');
    const deepLabel = { labels: ['a=b'], extra: JSON.parse(`${'['.repeat(30)}"[[[[{{{{"${']'.repeat(30)}`) as unknown, pad: 'x'.repeat(5000) };
    assert.deepEqual(parse(line({ source_labels: deepLabel })).source_labels, { a: 'b' });
    for (const key of ['start_time', 'end_time', 'proto', 'reporter', 'action', 'bytes_in', 'num_flows_completed']) {
      assertRejects(JSON.stringify(without(key)), 'INGEST_MISSING_FIELD', key);
    }
    const bad: [string, unknown][] = [
      ['start_time', 'yesterday'],
      ['end_time', -1],
      ['end_time', 1e300],
      ['proto', 300],
      ['proto', 'quic'],
      ['proto', true],
      ['reporter', 'both'],
      ['reporter', 1],
      ['action', 'pass'],
      ['source_ip', '10.0.0.999'],
      ['dest_ip', 7],
      ['source_port', 70000],
      ['dest_port', 'http'],
      ['source_type', 'pod'],
      ['dest_type', ['wep']],
      ['source_namespace', 5],
      ['dest_name_aggr', {}],
      ['source_labels', { labels: ['novalue'] }],
      ['dest_labels', { app: 1 }],
      ['dest_labels', 7],
      ['policies', { all_policies: [1] }],
      ['policies', 'x'],
      ['bytes_in', 1.5],
      ['bytes_out', -3],
      ['packets_in', '12a'],
      ['num_flows', Number.MAX_SAFE_INTEGER * 4],
      ['process_id', { pid: 1 }],
      ['process_args', 'x'],
      ['tcp_mean_smooth_rtt', 'fast'],
      ['tcp_lost_packets', 0.5],
      ['dest_service_port_num', 99999],
      ['host', 12],
    ];
    for (const [key, value] of bad) assertRejects(line({ [key]: value }), 'INGEST_BAD_FIELD', key);
  });

  it('keeps a __proto__ label as a label', () => {
    const flow = parse(line({ source_labels: JSON.parse('{"__proto__":"x"}') as unknown }));
    assert.equal(Object.getPrototypeOf(flow.source_labels), Object.prototype);
    assert.deepEqual(Object.entries(flow.source_labels!), [['__proto__', 'x']]);
    assert.doesNotThrow(() => rawFlows.encode(flow));
  });

  it('skips blank lines as a line parser', () => {
    const parser = calicoJsonParser({ host: 'node-a' });
    assert.equal(parser('  '), null);
    assert.equal(parser(line())?.proto, 6);
    assert.throws(() => parser('{'), IngestError);
  });
});
