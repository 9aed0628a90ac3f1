import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IngestError } from '../../../ingest/problems.js';
import {
  defaultVpcFormat,
  looksLikeVpcHeader,
  parseVpcLine,
  VpcFlowLogError,
  vpcFormatFromHeader,
  vpcFormatOf,
  vpcFormatOfVersion,
  type VpcFlowLogFormat,
} from '../../../ingest/vpc-flow-log.js';
import { codecFor } from '../../../schemas/codec.js';
import type { RawFlow } from '../../../schemas/types.js';

const codec = codecFor('RawFlow');

/** The flow of a line, proved a valid RawFlow by the codec. */
function flowOf(line: string, format: VpcFlowLogFormat = defaultVpcFormat): RawFlow {
  const result = parseVpcLine(format, line);
  assert.equal(result.kind, 'flow', `expected a flow from ${line}`);
  const { flow } = result as { flow: RawFlow };
  assert.deepEqual(codec.decode(codec.encode(flow)), flow);
  return flow;
}

function refusal(format: VpcFlowLogFormat, line: string, code: string, field?: string): VpcFlowLogError {
  let caught: unknown;
  assert.throws(
    () => parseVpcLine(format, line),
    (error: unknown) => {
      caught = error;
      return true;
    },
  );
  assert.ok(caught instanceof VpcFlowLogError, `expected a VpcFlowLogError, got ${String(caught)}`);
  assert.ok(caught instanceof IngestError);
  assert.equal(caught.code, code);
  assert.equal(caught.field, field);
  return caught;
}

const accepted = '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK';

describe('Ingest > VPC flow logs > format', () => {
  it('knows the default v2 format', () => {
    assert.deepEqual(defaultVpcFormat.fields, [
      'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport',
      'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status',
    ]);
    assert.equal(defaultVpcFormat.version, 2);
  });

  it('builds the format of every version from the documented fields', () => {
    assert.equal(vpcFormatOfVersion(3).fields.length, 21);
    assert.equal(vpcFormatOfVersion(4).fields.length, 25);
    assert.equal(vpcFormatOfVersion(5).fields.length, 29);
    assert.equal(vpcFormatOfVersion(5).version, 5);
  });

  it('reads a header line and a LogFormat string alike, its version the highest of its fields', () => {
    const header = vpcFormatFromHeader('version interface-id srcaddr dstaddr protocol start end action log-status flow-direction');
    const logFormat = vpcFormatFromHeader('${version} ${interface-id} ${srcaddr} ${dstaddr} ${protocol} ${start} ${end} ${action} ${log-status} ${flow-direction}');
    assert.deepEqual(header, logFormat);
    assert.equal(header.version, 5);
  });

  it('keeps unknown (later) fields in place and ignores their values', () => {
    const format = vpcFormatFromHeader('version interface-id srcaddr dstaddr srcport dstport protocol start end action log-status ecs-cluster-name reject-reason future-field');
    assert.equal(format.version, 8);
    assert.deepEqual(format.unknown, ['future-field']);
    const flow = flowOf('9 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 2 ACCEPT OK my-cluster - anything', format);
    assert.equal(flow.host, 'eni-1');
    refusal(format, '7 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 2 ACCEPT OK my-cluster - anything', 'INGEST_BAD_FIELD', 'version');
  });

  it('refuses formats it cannot use, saying why', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /at least one field/],
      ['version srcaddr dstaddr', /without start, end, action, protocol/],
      ['version start end action protocol start', /'start' appears twice/],
      ['version Start end action protocol', /'Start' is not a flow log field name/],
    ];
    for (const [header, message] of cases) {
      assert.throws(() => vpcFormatFromHeader(header), (error: unknown) => {
        assert.ok(error instanceof VpcFlowLogError);
        assert.equal(error.code, 'INGEST_BAD_HEADER');
        assert.match(error.message, message);
        return true;
      });
    }
  });

  it('tells headers from records', () => {
    assert.ok(looksLikeVpcHeader(defaultVpcFormat.fields.join(' ')));
    assert.ok(!looksLikeVpcHeader(accepted));
    assert.ok(looksLikeVpcHeader('version future-field', false));
    assert.ok(!looksLikeVpcHeader('version future-field', true), 'only known names when asked');
    assert.ok(!looksLikeVpcHeader('   '));
  });

  it('refuses a format given as a list with a bad name', () => {
    assert.throws(() => vpcFormatOf(['version', 'start end']), { code: 'INGEST_BAD_HEADER' });
  });
});

describe('Ingest > VPC flow logs > v2 records', () => {
  it('maps an accepted record: seconds to ms, reporter src, counters out', () => {
    const flow = flowOf(accepted);
    assert.deepEqual(
      {
        start: flow.start_time, end: flow.end_time, origin: flow.origin, host: flow.host,
        src: [flow.source_ip, flow.source_port], dst: [flow.dest_ip, flow.dest_port],
        proto: flow.proto, reporter: flow.reporter, action: flow.action,
        out: [flow.packets_out, flow.bytes_out], in: [flow.packets_in, flow.bytes_in],
        flows: [flow.num_flows, flow.num_flows_started, flow.num_flows_completed],
      },
      {
        start: 1418530010000, end: 1418530070000, origin: 'vpc', host: 'eni-1235b8ca123456789',
        src: ['172.31.16.139', 20641], dst: ['172.31.16.21', 22],
        proto: 6, reporter: 'src', action: 'allow',
        out: [20, 4249], in: [0, 0],
        flows: [1, 0, 0],
      },
    );
    for (const key of ['source_type', 'source_name', 'source_namespace', 'dest_type', 'dest_name', 'dest_labels'] as const) {
      assert.equal(flow[key], null, key);
    }
  });

  it('maps REJECT to deny', () => {
    const flow = flowOf('2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK');
    assert.equal(flow.action, 'deny');
    assert.equal(flow.dest_port, 3389);
  });

  it('skips NODATA and SKIPDATA records', () => {
    const nodata = '2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA';
    const skipdata = '2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA';
    assert.deepEqual(parseVpcLine(defaultVpcFormat, nodata), { kind: 'skip', status: 'NODATA' });
    assert.deepEqual(parseVpcLine(defaultVpcFormat, skipdata), { kind: 'skip', status: 'SKIPDATA' });
  });

  it('keeps IPv6 addresses as strings', () => {
    const flow = flowOf(
      '2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK',
    );
    assert.equal(flow.source_ip, '2001:db8:1234:a100:8d6e:3477:df66:f105');
    assert.equal(flow.dest_ip, '2001:db8:1234:a102:3304:8879:34cf:4071');
  });

  it('reads ICMP with ports 0, and tolerates CRLF and extra spaces', () => {
    const flow = flowOf('2 123456789010 eni-1  203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK\r');
    assert.deepEqual([flow.proto, flow.source_port, flow.dest_port], [1, 0, 0]);
  });

  it('refuses bad lines with a code and the field', () => {
    const fields = accepted.split(' ');
    const replace = (index: number, value: string) => fields.map((field, i) => (i === index ? value : field)).join(' ');
    assert.match(refusal(defaultVpcFormat, fields.slice(1).join(' '), 'INGEST_BAD_LINE').message, /expected 14 fields .* found 13/);
    refusal(defaultVpcFormat, '', 'INGEST_BAD_LINE');
    refusal(defaultVpcFormat, replace(0, '3'), 'INGEST_BAD_FIELD', 'version');
    refusal(defaultVpcFormat, replace(0, 'v2'), 'INGEST_BAD_FIELD', 'version');
    refusal(defaultVpcFormat, replace(3, '172.31.16.1399'), 'INGEST_BAD_FIELD', 'srcaddr');
    refusal(defaultVpcFormat, replace(4, 'not-an-ip'), 'INGEST_BAD_FIELD', 'dstaddr');
    assert.match(refusal(defaultVpcFormat, replace(5, 'http'), 'INGEST_BAD_FIELD', 'srcport').message, /srcport 'http' is not a number/);
    refusal(defaultVpcFormat, replace(6, '65536'), 'INGEST_BAD_FIELD', 'dstport');
    refusal(defaultVpcFormat, replace(7, '256'), 'INGEST_BAD_FIELD', 'protocol');
    refusal(defaultVpcFormat, replace(8, '-1'), 'INGEST_BAD_FIELD', 'packets');
    refusal(defaultVpcFormat, replace(9, '1e3'), 'INGEST_BAD_FIELD', 'bytes');
    refusal(defaultVpcFormat, replace(10, 'yesterday'), 'INGEST_BAD_FIELD', 'start');
    assert.match(refusal(defaultVpcFormat, replace(11, '1418530000'), 'INGEST_BAD_FIELD', 'end').message, /before start/);
    refusal(defaultVpcFormat, replace(12, 'DROP'), 'INGEST_BAD_FIELD', 'action');
    refusal(defaultVpcFormat, replace(12, '-'), 'INGEST_BAD_FIELD', 'action');
    refusal(defaultVpcFormat, replace(13, 'MAYBE'), 'INGEST_BAD_FIELD', 'log-status');
  });

  it('quotes long values only in part', () => {
    const error = refusal(defaultVpcFormat, accepted.replace('20641', 'x'.repeat(10_000)), 'INGEST_BAD_FIELD', 'srcport');
    assert.ok(error.message.length < 200, error.message);
  });
});

describe('Ingest > VPC flow logs > custom formats', () => {
  const v3 = vpcFormatFromHeader(
    'version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status',
  );
  const v3Line = (pktSrc: string, flags: string, proto = '6', instance = 'i-0a1b2c3d4e5f60718') =>
    `3 vpc-0a1b2c3d4e5f60718 subnet-0123456789abcdef0 ${instance} eni-0f1e2d3c4b5a69788 123456789010 IPv4 10.40.1.175 10.40.2.236 39812 80 ${pktSrc} 10.40.2.236 ${proto} 1340 5 1616729292 1616729349 ACCEPT ${flags} OK`;

  it('v3: prefers the packet addresses, and reads connection starts and ends from tcp-flags', () => {
    const nat = flowOf(v3Line('10.20.33.164', '2'), v3);
    assert.equal(nat.source_ip, '10.20.33.164', 'the instance behind the NAT gateway');
    assert.equal(nat.dest_ip, '10.40.2.236');
    assert.deepEqual([nat.bytes_out, nat.packets_out], [1340, 5], 'custom field order is honoured');
    assert.equal(flowOf(v3Line('-', '2'), v3).source_ip, '10.40.1.175', 'no packet address: the record address');
    const flags = (value: string, proto?: string) => {
      const flow = flowOf(v3Line('-', value, proto), v3);
      return [flow.num_flows_started, flow.num_flows_completed];
    };
    assert.deepEqual(flags('2'), [1, 0], 'SYN');
    assert.deepEqual(flags('18'), [0, 0], 'SYN-ACK: the answering side');
    assert.deepEqual(flags('3'), [1, 1], 'SYN and FIN in one window');
    assert.deepEqual(flags('19'), [0, 1], 'SYN-ACK and FIN');
    assert.deepEqual(flags('4'), [0, 1], 'RST');
    assert.deepEqual(flags('0'), [0, 0]);
    assert.deepEqual(flags('-'), [0, 0]);
    assert.deepEqual(flags('3', '17'), [0, 0], 'flags mean nothing outside TCP');
    refusal(v3, v3Line('-', 'SYN'), 'INGEST_BAD_FIELD', 'tcp-flags');
    refusal(v3, v3Line('10.20.33', '2'), 'INGEST_BAD_FIELD', 'pkt-srcaddr');
  });

  it('v3 without an interface id: the host falls back to the instance, subnet or VPC', () => {
    const format = vpcFormatFromHeader('version vpc-id subnet-id instance-id protocol start end action');
    assert.equal(flowOf('3 vpc-1 subnet-1 i-1 6 1 2 ACCEPT', format).host, 'i-1');
    assert.equal(flowOf('3 vpc-1 subnet-1 - 6 1 2 ACCEPT', format).host, 'subnet-1');
    assert.equal(flowOf('3 vpc-1 - - 6 1 2 ACCEPT', format).host, 'vpc-1');
    const bare = flowOf('2 6 1 2 ACCEPT', vpcFormatFromHeader('version protocol start end action'));
    assert.deepEqual([bare.host, bare.source_ip, bare.dest_port, bare.bytes_out], ['-', null, null, 0]);
  });

  it('v4: reads the record and ignores the location fields', () => {
    const v4 = vpcFormatOfVersion(4);
    const flow = flowOf(
      '4 123456789010 eni-0123456789abcdef0 10.0.2.15 10.0.3.40 44120 5432 6 12 2210 1620140661 1620140721 ACCEPT OK vpc-0123456789abcdef0 subnet-0123456789abcdef1 i-0123456789abcdef2 2 IPv4 10.0.2.15 10.0.3.40 us-west-2 usw2-az1 - -',
      v4,
    );
    assert.deepEqual([flow.host, flow.dest_port, flow.num_flows_started], ['eni-0123456789abcdef0', 5432, 1]);
  });

  it('v5: flow-direction sets the reporter and where the counters go', () => {
    const v5 = vpcFormatFromHeader(
      'version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status flow-direction traffic-path pkt-dst-aws-service',
    );
    const line = (direction: string) => `5 eni-0e1f 198.51.100.7 10.0.1.12 60311 22 6 2 120 1700000000 1700000060 REJECT OK ${direction} - -`;
    const ingress = flowOf(line('ingress'), v5);
    assert.deepEqual([ingress.reporter, ingress.bytes_in, ingress.packets_in, ingress.bytes_out, ingress.action], ['dst', 120, 2, 0, 'deny']);
    const egress = flowOf(line('egress'), v5);
    assert.deepEqual([egress.reporter, egress.bytes_out, egress.packets_out, egress.bytes_in], ['src', 120, 2, 0]);
    assert.equal(flowOf(line('-'), v5).reporter, 'src');
    refusal(v5, line('sideways'), 'INGEST_BAD_FIELD', 'flow-direction');
  });

  it('without log-status, a record with no action is skipped as NODATA', () => {
    const format = vpcFormatFromHeader('version interface-id srcaddr dstaddr protocol start end action');
    assert.deepEqual(parseVpcLine(format, '2 eni-1 - - - 1 2 -'), { kind: 'skip', status: 'NODATA' });
  });
});
