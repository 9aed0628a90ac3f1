import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { calicoTextFields, calicoTextParser, formatCalicoText, parseCalicoText } from '../../../ingest/calico-text.js';
import { IngestError } from '../../../ingest/problems.js';
import { codecFor } from '../../../schemas/codec.js';
import type { RawFlow } from '../../../schemas/types.js';

const sampleFile = fileURLToPath(new URL('../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url));
const sample = readFileSync(sampleFile, 'utf8').split('\n').filter((line) => line !== '');
const host = 'ip-10-0-1-23.ec2.internal';
const parse = (line: string) => parseCalicoText(line, { host });
const rawFlows = codecFor('RawFlow');

/** The sample's first line with some fields replaced (by Calico's field name). */
function lineWith(changes: Partial<Record<(typeof calicoTextFields)[number], string>>, base = sample[0]!): string {
  const fields = base.split(' ');
  for (const [name, value] of Object.entries(changes)) fields[calicoTextFields.indexOf(name as never)] = value;
  return fields.join(' ');
}

function assertRejects(line: string, code: string, field?: string) {
  assert.throws(
    () => parse(line),
    (error: unknown) => {
      assert.ok(error instanceof IngestError, `an IngestError for ${JSON.stringify(line)}`);
      assert.equal(error.code, code);
      if (field !== undefined) assert.match(error.message, new RegExp(`field ${field}:`));
      return true;
    },
  );
}

describe('Ingest > Calico text', () => {
  describe('the shared sample', () => {
    it('has 21 lines, each a valid RawFlow that formats back byte-identical', () => {
      assert.equal(sample.length, 21);
      for (const [index, line] of sample.entries()) {
        const flow = parse(line);
        assert.doesNotThrow(() => rawFlows.encode(flow), `line ${index + 1}`);
        assert.equal(formatCalicoText(flow), line, `line ${index + 1}`);
      }
    });

    it('maps an aggregated workload-to-workload line', () => {
      const flow = parse(sample[0]!);
      assert.deepEqual(
        { ...flow },
        {
          ...flow,
          start_time: 1530810851000,
          end_time: 1530811157000,
          origin: 'calico',
          host,
          source_ip: null,
          source_port: null,
          source_type: 'wep',
          source_namespace: 'management-ui',
          source_name: null,
          source_name_aggr: 'management-ui.*',
          source_labels: null,
          dest_ip: null,
          dest_port: 6379,
          dest_type: 'wep',
          dest_namespace: 'stars',
          dest_name: null,
          dest_name_aggr: 'backend.*',
          proto: 6,
          reporter: 'src',
          action: 'allow',
          num_flows: 85,
          num_flows_started: 83,
          num_flows_completed: 61,
          packets_in: 300,
          packets_out: 300,
          bytes_in: 38100,
          bytes_out: 28140,
        },
      );
    });

    it('keeps networks, host endpoints, unaggregated names, ingress and denials', () => {
      const toNet = parse(sample[2]!);
      assert.deepEqual([toNet.source_type, toNet.source_namespace, toNet.source_name, toNet.source_name_aggr], ['hep', null, null, 'eth0.*']);
      assert.deepEqual([toNet.dest_type, toNet.dest_name, toNet.dest_name_aggr, toNet.proto], ['net', null, 'pub', 17]);
      assert.equal(parse(sample[11]!).dest_name_aggr, 'aws');
      const bare = parse(sample[14]!);
      assert.deepEqual([bare.source_name, bare.source_name_aggr], ['rds-client-deny', 'rds-client-deny']);
      const denied = parse(sample[16]!);
      assert.deepEqual([denied.reporter, denied.action], ['dst', 'deny']);
    });
  });

  describe('older vocabularies', () => {
    it('reads O/I, src/dst and A/D, and formats them canonically', () => {
      for (const [reporter, action, expected] of [
        ['O', 'A', ['src', 'allow']],
        ['I', 'D', ['dst', 'deny']],
        ['src', 'deny', ['src', 'deny']],
        ['dst', 'allow', ['dst', 'allow']],
        ['OUT', 'Allow', ['src', 'allow']],
      ] as const) {
        const flow = parse(lineWith({ reporter, action }));
        assert.deepEqual([flow.reporter, flow.action], expected);
        assert.equal(formatCalicoText(flow), lineWith({ reporter: expected[0] === 'src' ? 'out' : 'in', action: expected[1] }));
      }
    });

    it('reads pvt and pub endpoint types as net endpoints of that network', () => {
      const flow = parse(lineWith({ src_type: 'pvt', src_ns: '-', src_name: '-', dst_type: 'pub', dst_ns: '-', dst_name: '-' }));
      assert.deepEqual([flow.source_type, flow.source_name, flow.source_name_aggr], ['net', null, 'pvt']);
      assert.deepEqual([flow.dest_type, flow.dest_name, flow.dest_name_aggr], ['net', null, 'pub']);
      assert.equal(formatCalicoText(flow), lineWith({ src_type: 'net', src_ns: '-', src_name: 'pvt', dst_type: 'net', dst_ns: '-', dst_name: 'pub' }));
    });

    it('reads protocol names, tabs, runs of spaces and a trailing CR', () => {
      const flow = parse(`${lineWith({ proto: 'udp' }).replaceAll(' ', ' \t ')}\r`);
      assert.equal(flow.proto, 17);
      assert.equal(formatCalicoText(flow), lineWith({ proto: '17' }));
    });
  });

  describe('labels, addresses and ports', () => {
    it('reads [k=v,...] labels into a map and writes them back', () => {
      const line = lineWith({ src_labels: '[app=web,app.kubernetes.io/part-of=stars,empty=]', dst_labels: '[]' });
      const flow = parse(line);
      assert.deepEqual(flow.source_labels, { app: 'web', 'app.kubernetes.io/part-of': 'stars', empty: '' });
      assert.deepEqual(flow.dest_labels, {});
      assert.equal(formatCalicoText(flow), line);
    });

    it('keeps a __proto__ label as a label', () => {
      const labels = parse(lineWith({ src_labels: '[__proto__=x]' })).source_labels!;
      assert.equal(Object.getPrototypeOf(labels), Object.prototype);
      assert.deepEqual(Object.entries(labels), [['__proto__', 'x']]);
      assert.doesNotThrow(() => rawFlows.encode(parse(lineWith({ src_labels: '[__proto__=x]' }))));
    });

    it('reads IPv4 and IPv6 addresses and source ports', () => {
      const line = lineWith({ src_ip: '10.0.3.7', dst_ip: '2001:db8::1', src_port: '40123' });
      const flow = parse(line);
      assert.deepEqual([flow.source_ip, flow.dest_ip, flow.source_port], ['10.0.3.7', '2001:db8::1', 40123]);
      assert.equal(formatCalicoText(flow), line);
    });
  });

  describe('malformed lines', () => {
    it('names the field that is wrong', () => {
      const cases: [Partial<Record<(typeof calicoTextFields)[number], string>>, string][] = [
        [{ start: 'yesterday' }, 'start'],
        [{ end: '-5' }, 'end'],
        [{ end: '99999999999999999' }, 'end'],
        [{ src_type: 'pod' }, 'src_type'],
        [{ dst_type: 'wepx' }, 'dst_type'],
        [{ src_labels: 'app=web' }, 'src_labels'],
        [{ dst_labels: '[app]' }, 'dst_labels'],
        [{ dst_labels: '[=v]' }, 'dst_labels'],
        [{ src_ip: '10.0.0.256' }, 'src_ip'],
        [{ dst_ip: 'example.com' }, 'dst_ip'],
        [{ proto: '256' }, 'proto'],
        [{ proto: 'quic' }, 'proto'],
        [{ src_port: '65536' }, 'src_port'],
        [{ dst_port: '0x50' }, 'dst_port'],
        [{ num_flows: '1.5' }, 'num_flows'],
        [{ num_flows_completed: '-' }, 'num_flows_completed'],
        [{ reporter: 'both' }, 'reporter'],
        [{ packets_in: '' }, 'packets_in'],
        [{ bytes_out: '1e3' }, 'bytes_out'],
        [{ action: 'pass' }, 'action'],
      ];
      for (const [changes, field] of cases) {
        const line = lineWith(changes);
        if (line.split(/\s+/).length === 24) assertRejects(line, 'INGEST_BAD_FIELD', field);
        else assertRejects(line, 'INGEST_BAD_LINE');
      }
    });

    it('rejects a line without 24 fields', () => {
      assertRejects('', 'INGEST_BAD_LINE');
      assertRejects(sample[0]!.split(' ').slice(0, 23).join(' '), 'INGEST_BAD_LINE');
      assertRejects(`${sample[0]!} extra`, 'INGEST_BAD_LINE');
      assertRejects('{"start_time": 1530810851}', 'INGEST_BAD_LINE');
    });

    it('shows a shortened value in the message', () => {
      assert.throws(() => parse(lineWith({ src_name: 'x', src_type: 'y'.repeat(5000) })), (error: unknown) => {
        assert.ok(error instanceof IngestError);
        assert.ok(error.message.length < 200, error.message);
        return true;
      });
    });
  });

  describe('formatting any RawFlow', () => {
    const base = parse(sample[0]!);

    it('writes names as aggregated name, else name, and rounds times to whole seconds outward', () => {
      const flow: RawFlow = { ...base, start_time: 1530810851999, end_time: 1530811157001, source_name: 'web-1', source_name_aggr: null };
      assert.equal(formatCalicoText(flow), lineWith({ start: '1530810851', end: '1530811158', src_name: 'web-1' }));
      assert.equal(formatCalicoText({ ...base, source_name: 'web-1', source_name_aggr: 'web-*' }), lineWith({ src_name: 'web-*' }));
    });

    it('keeps one line of 24 fields whatever the values hold', () => {
      const flow: RawFlow = { ...base, source_namespace: 'a b', source_name_aggr: '', dest_labels: { 'k\tx': 'v w' }, source_type: null };
      const line = formatCalicoText(flow);
      assert.equal(line.split(' ').length, 24);
      assert.equal(line, lineWith({ src_type: '-', src_ns: 'a_b', src_name: '-', dst_labels: '[k_x=v_w]' }));
      assert.deepEqual(parse(line).dest_labels, { k_x: 'v_w' });
    });
  });

  it('skips blank lines as a line parser', () => {
    const parser = calicoTextParser({ host });
    assert.equal(parser(' \t\r'), null);
    assert.equal(parser(sample[3]!)?.host, host);
    assert.throws(() => parser('garbage'), IngestError);
  });
});
