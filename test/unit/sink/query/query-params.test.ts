import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from 'node:util';
import { joinDashValues } from '../../../../cli/query-command.js';
import { ipInBlock } from '../../../../sink/query/flow-match.js';
import { flagSource, parametersOf, parseQuery, readIpOrBlock, searchParamSource, type Question } from '../../../../sink/query/query-params.js';
import { parseDuration, parseTime } from '../../../../sink/query/time-parse.js';

const now = Date.UTC(2026, 10, 27, 12, 0, 0);
const http = (question: Question, query: string) => parseQuery(question, searchParamSource(new URLSearchParams(query)), { now });
const cli = (question: Question, args: string[]) => {
  const options = Object.fromEntries(parametersOf[question].map((name) => [name.replace(/_/g, '-'), { type: 'string' as const, multiple: true }]));
  return parseQuery(question, flagSource(parseArgs({ args: joinDashValues(args), options, strict: true }).values), { now });
};

describe('Sink > query > parameters > times', () => {
  it('reads ISO times (no zone is UTC), epoch ms, now and relative times', () => {
    assert.equal(parseTime('2026-11-27T11:00:00Z', now), now - 3_600_000);
    assert.equal(parseTime('2026-11-27T13:00:00+02:00', now), now - 3_600_000);
    assert.equal(parseTime('2026-11-27T11:00', now), now - 3_600_000);
    assert.equal(parseTime('2026-11-27', now), Date.UTC(2026, 10, 27));
    assert.equal(parseTime('1700000000000', now), 1_700_000_000_000);
    assert.equal(parseTime('now', now), now);
    assert.equal(parseTime('-1h', now), now - 3_600_000);
    assert.equal(parseTime('now-30m', now), now - 1_800_000);
    assert.equal(parseTime('now+2d', now), now + 2 * 86_400_000);
    for (const bad of ['yesterday', '2026-13-45', '1h', '-1y', '', '2026-11-27T25:00:00Z']) assert.equal(parseTime(bad, now), undefined, bad);
  });

  it('reads durations', () => {
    assert.deepEqual(['250ms', '90s', '5m', '1h', '2d', '1w'].map(parseDuration), [250, 90_000, 300_000, 3_600_000, 172_800_000, 604_800_000]);
    assert.equal(parseDuration('5 minutes'), undefined);
  });
});

describe('Sink > query > parameters > filters', () => {
  it('builds the same model from flags and from query parameters', () => {
    const flags = cli('flows', ['--from', '-1h', '--to', 'now', '--source-namespace', 'stars', '--dest-port', '22,3389', '--dest-port', '22', '--label', 'app=web', '--proto', 'tcp,17', '--action', 'deny', '--reporter', 'dst', '--host', 'node-b', '--dest-ip', '10.0.1.7/24', '--limit', '50']);
    const params = http('flows', 'from=-1h&to=now&source_namespace=stars&dest_port=22,3389&dest_port=22&label=app%3Dweb&proto=tcp,17&action=deny&reporter=dst&host=node-b&dest_ip=10.0.1.7/24&limit=50');
    const expected = {
      question: 'flows',
      filter: {
        from: now - 3_600_000,
        to: now,
        source: { namespace: ['stars'] },
        dest: { ip: ['10.0.1.0/24'], port: [22, 3389] },
        any: [{ label: ['app=web'] }],
        proto: [6, 17],
        action: ['deny'],
        reporter: ['dst'],
        host: ['node-b'],
      },
      page: { limit: 50 },
    };
    assert.deepEqual(flags, { request: expected, problems: [] });
    assert.deepEqual(params, { request: expected, problems: [] });
  });

  it('no parameters: every flow, the first page of 100', () => {
    assert.deepEqual(http('flows', '').request, { question: 'flows', filter: {}, page: { limit: 100 } });
  });

  it('names every bad flag at once, as a flag', () => {
    const { request, problems } = cli('flows', [
      '--from', 'yesterday',
      '--to', 'later',
      '--dest-port', '70000',
      '--source-port', 'ssh',
      '--proto', 'gre',
      '--action', 'maybe',
      '--reporter', 'both',
      '--label', 'novalue',
      '--ip', '10.0.0.300',
      '--source-ip', '10.0.0.0/33',
      '--namespace', '',
      '--limit', '0',
      '--cursor', 'nope!',
    ]);
    assert.equal(request, undefined);
    assert.deepEqual(problems, [
      "--from: 'yesterday' is not a time: ISO 8601 (2026-11-27T12:00:00Z), epoch ms, now, or relative (-1h, now-30m)",
      "--to: 'later' is not a time: ISO 8601 (2026-11-27T12:00:00Z), epoch ms, now, or relative (-1h, now-30m)",
      "--source-ip: '10.0.0.0/33' is not an IP address or CIDR block",
      "--source-port: 'ssh' is not a port (0-65535)",
      "--dest-port: '70000' is not a port (0-65535)",
      "--namespace: '' is not a namespace",
      "--label: 'novalue' is not a label key=value",
      "--ip: '10.0.0.300' is not an IP address or CIDR block",
      "--proto: 'gre' is not a protocol (icmp, tcp, udp, icmpv6, sctp or 0-255)",
      "--action: 'maybe' is not allow or deny",
      "--reporter: 'both' is not src or dst",
      "--limit: '0' is not a whole number from 1 to 10000",
      '--cursor: not a cursor this API gave (use the one printed with the previous page)',
    ]);
  });

  it('names parameters as given in a URL, with unknown and repeated ones', () => {
    const { problems } = http('flows', 'from=2026-11-27T12:00:00Z&to=2026-11-27T11:00:00Z&limit=5&limit=6&colour=red');
    assert.deepEqual(problems, [
      'colour: unknown for flows',
      'from: 2026-11-27T12:00:00.000Z is not before to 2026-11-27T11:00:00.000Z',
      'limit: given 2 times, once at most',
    ]);
  });
});

describe('Sink > query > parameters > questions', () => {
  it('timeline: a pod and a window, defaults 15 minutes each way', () => {
    assert.deepEqual(http('timeline', 'pod=stars/frontend-1&at=-10m&action=deny').request, {
      question: 'timeline',
      timeline: { pod: { namespace: 'stars', name: 'frontend-1' }, at: now - 600_000, before: 900_000, after: 900_000, filter: { action: ['deny'] } },
      page: { limit: 100 },
    });
    assert.deepEqual(http('timeline', 'ip=10.0.1.11&at=now&before=5m&after=1h').request, {
      question: 'timeline',
      timeline: { pod: { ip: '10.0.1.11' }, at: now, before: 300_000, after: 3_600_000 },
      page: { limit: 100 },
    });
  });

  it('timeline: every problem', () => {
    assert.deepEqual(http('timeline', 'pod=frontend&before=soon&from=-1h').problems, [
      'from: unknown for timeline',
      "pod: 'frontend' is not namespace/name",
      'at: missing: the moment looked at (ISO 8601 (2026-11-27T12:00:00Z), epoch ms, now, or relative (-1h, now-30m))',
      "before: 'soon' is not a duration (90s, 5m, 1h, 2d)",
    ]);
    assert.deepEqual(http('timeline', 'pod=a/b&ip=10.0.0.1&at=now').problems, ['pod: give pod or ip, not both']);
    assert.deepEqual(http('timeline', 'at=now').problems, ['pod: missing: give the pod as namespace/name (or ip)']);
  });

  it('top-talkers: side, key and limit (default 10)', () => {
    assert.deepEqual(cli('top-talkers', ['--by', 'pair', '--key', 'name-aggr']).request, {
      question: 'top-talkers',
      filter: {},
      top: { by: 'pair', key: 'name_aggr', limit: 10 },
    });
    assert.deepEqual(cli('top-talkers', ['--by', 'everyone', '--key', 'pod']).problems, [
      "--by: 'everyone' is not one of source, dest, pair",
      "--key: 'pod' is not one of workload, name_aggr, ip",
    ]);
  });

  it('graph: node kind', () => {
    assert.deepEqual(http('graph', 'namespace=stars&node=name_aggr').request, { question: 'graph', filter: { any: [{ namespace: ['stars'] }] }, node: 'name_aggr' });
    assert.deepEqual(http('graph', 'node=pod&limit=3').problems, ['limit: unknown for graph', "node: 'pod' is not one of workload, name_aggr"]);
  });

  it('who-talked-to: the address or block is required; the destination is its own', () => {
    assert.deepEqual(http('who-talked-to', 'ip=203.0.113.0/24&from=-1d').request, { question: 'who-talked-to', ip: '203.0.113.0/24', filter: { from: now - 86_400_000 } });
    assert.deepEqual(http('who-talked-to', 'dest_ip=1.2.3.4').problems, ['dest_ip: unknown for who-talked-to', 'ip: missing: the address (or CIDR block) talked to']);
    assert.deepEqual(http('who-talked-to', 'ip=example.com').problems, ["ip: 'example.com' is not an IP address or CIDR block"]);
  });
});

describe('Sink > query > addresses', () => {
  it('reads an IPv4-mapped IPv6 block as the IPv4 block OpenSearch takes it for', () => {
    assert.equal(readIpOrBlock('::ffff:10.0.1.0/120'), '10.0.1.0/24');
    assert.equal(readIpOrBlock('::ffff:0:0/96'), '0.0.0.0/0');
    assert.equal(readIpOrBlock('::/0'), '::/0');
    assert.equal(readIpOrBlock('2001:db8::/32'), '2001:db8::/32');
  });

  it('matches as OpenSearch does: an IPv6 block over the mapped range holds IPv4 addresses', () => {
    assert.equal(ipInBlock('10.0.1.5', '::/0'), true);
    assert.equal(ipInBlock('10.0.1.5', '::ffff:10.0.1.0/120'), true);
    assert.equal(ipInBlock('10.0.2.5', '::ffff:10.0.1.0/120'), false);
    assert.equal(ipInBlock('10.0.1.5', '2001:db8::/32'), false);
    assert.equal(ipInBlock('2001:db8::1', '0.0.0.0/0'), false);
    assert.equal(ipInBlock('2001:db8::1', '2001:db8::/32'), true);
  });
});
