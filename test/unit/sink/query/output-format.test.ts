import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flowIdOf } from '../../../../sink/opensearch/documents.js';
import { csvField, formatAnswer, formatCsv, formatTable, type Answer } from '../../../../sink/query/output-format.js';
import { datasetFlows, frontendPod } from '../../../support/flow-dataset.js';

const stored = (name: keyof typeof datasetFlows) => ({ ...datasetFlows[name], flow_id: flowIdOf(datasetFlows[name]) });

describe('Sink > query > output', () => {
  it('quotes CSV fields holding a comma, a quote, a line break or edge spaces, and doubles quotes', () => {
    assert.deepEqual(
      ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', ' padded', 'padded ', '', null, 42].map(csvField),
      ['plain', '"a,b"', '"say ""hi"""', '"two\nlines"', '"cr\rhere"', '" padded"', '"padded "', '', '', '42'],
    );
    assert.equal(formatCsv({ columns: ['a', 'b'], rows: [['x,y', 1]], records: [] }), 'a,b\r\n"x,y",1\r\n');
  });

  it('keeps a spreadsheet from running a CSV text as a formula, and leaves numbers alone', () => {
    assert.deepEqual(
      ['=HYPERLINK("http://x")', '+1', '-cmd', '@SUM(A1)', '\tx', 'safe=value', -5, 0].map(csvField),
      ['"\'=HYPERLINK(""http://x"")"', "'+1", "'-cmd", "'@SUM(A1)", "'\tx", 'safe=value', '-5', '0'],
    );
  });

  it('aligns table columns: text left, numbers right, empty as -', () => {
    const table = formatTable({ columns: ['name', 'bytes'], rows: [['frontend', 5], ['db', 12_345], [null, 7]], records: [] });
    assert.equal(table, ['NAME      BYTES', 'frontend      5', 'db        12345', '-             7', ''].join('\n'));
  });

  it('prints flows in all three formats', () => {
    const answer: Answer = { question: 'flows', page: { flows: [stored('i1')] } };
    const csv = formatAnswer(answer, 'csv').split('\r\n');
    assert.equal(csv[1], `2026-11-27T23:58:00.000Z,pub,198.51.100.7,55555,stars/${frontendPod.name},10.0.1.11,443,tcp,allow,dst,node-c,1400,10,${flowIdOf(datasetFlows.i1)}`);
    assert.deepEqual(JSON.parse(formatAnswer(answer, 'jsonl')), stored('i1'));
    assert.match(formatAnswer(answer, 'table'), /^TIME\s+SOURCE\s+SOURCE_IP\s+SOURCE_PORT\s+DEST/);
  });

  it('marks each timeline flow out, in or self from the pod', () => {
    const answer: Answer = { question: 'timeline', pod: frontendPod, page: { flows: [stored('c1'), stored('x1')] } };
    const lines = formatAnswer(answer, 'jsonl').trim().split('\n').map((line) => JSON.parse(line) as { role: string; pod: string });
    assert.deepEqual(lines.map((line) => [line.role, line.pod]), [['in', `stars/${frontendPod.name}`], ['out', `stars/${frontendPod.name}`]]);
  });

  it('prints talkers, edges and callers as rows', () => {
    const talkers: Answer = { question: 'top-talkers', talkers: [{ source: { namespace: 'stars', name: 'deployment/frontend' }, dest: { namespace: null, name: 'pub' }, flows: 2, bytes: 52_300 }] };
    assert.equal(formatAnswer(talkers, 'csv'), 'rank,source,dest,flows,bytes\r\n1,stars/deployment/frontend,pub,2,52300\r\n');
    const graph: Answer = {
      question: 'graph',
      edges: [{ source: { namespace: 'stars', name: 'a' }, dest: { namespace: 'stars', name: 'b' }, flows: 5, bytes: 10, ports: [22, 3389], denied: true, denied_flows: 2 }],
    };
    assert.equal(formatAnswer(graph, 'csv'), 'source,dest,flows,bytes,ports,denied,denied_flows\r\nstars/a,stars/b,5,10,22 3389,yes,2\r\n');
    const callers: Answer = {
      question: 'who-talked-to',
      callers: [{ source: { ip: '198.51.100.7', namespace: null, name: null, workload: null }, flows: 1, bytes: 9, denied_flows: 0, first_seen: 0, last_seen: 1_000 }],
    };
    assert.equal(
      formatAnswer(callers, 'csv'),
      'source_ip,source,workload,flows,bytes,denied_flows,first_seen,last_seen\r\n198.51.100.7,,,1,9,0,1970-01-01T00:00:00.000Z,1970-01-01T00:00:01.000Z\r\n',
    );
  });
});
