import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCursor } from '../../../../sink/query/cursor.js';
import { callersBody, compileFilter, flowPageOf, flowsSearchBody, graphBody, talkersCompositeBody, talkersTermsBody } from '../../../../sink/query/opensearch-query.js';

describe('Sink > query > OpenSearch query compiler', () => {
  it('no filter: match_all', () => {
    assert.deepEqual(compileFilter({}), { match_all: {} });
  });

  it('a filter: bool filter clauses, term for one value, terms for several, a term per label, CIDR as is', () => {
    assert.deepEqual(
      compileFilter({
        from: 1_000,
        to: 2_000,
        source: { namespace: ['stars'], label: ['app=web', 'tier=api'] },
        dest: { ip: ['10.0.1.0/24'], port: [22, 3389] },
        proto: [6],
        action: ['deny'],
      }),
      {
        bool: {
          filter: [
            { range: { '@timestamp': { gte: 1_000, lt: 2_000, format: 'epoch_millis' } } },
            { term: { source_namespace: 'stars' } },
            { term: { source_label: 'app=web' } },
            { term: { source_label: 'tier=api' } },
            { term: { dest_ip: '10.0.1.0/24' } },
            { terms: { dest_port: [22, 3389] } },
            { term: { proto: 6 } },
            { term: { action: 'deny' } },
          ],
        },
      },
    );
  });

  it('either end: a should of the same clauses on each end', () => {
    assert.deepEqual(compileFilter({ any: [{ namespace: ['data'], workload: ['statefulset/postgres'] }] }), {
      bool: {
        filter: [
          {
            bool: {
              should: [
                { bool: { filter: [{ term: { source_namespace: 'data' } }, { term: { source_workload: 'statefulset/postgres' } }] } },
                { bool: { filter: [{ term: { dest_namespace: 'data' } }, { term: { dest_workload: 'statefulset/postgres' } }] } },
              ],
              minimum_should_match: 1,
            },
          },
        ],
      },
    });
  });

  it('pages flows with search_after on time and flow id, one more hit than the limit', () => {
    assert.deepEqual(flowsSearchBody({}, { limit: 2, cursor: encodeCursor({ time: 5, flowId: 'abc' }) }), {
      size: 3,
      track_total_hits: false,
      query: { match_all: {} },
      sort: [{ '@timestamp': { order: 'asc' } }, { flow_id: { order: 'asc' } }],
      search_after: [5, 'abc'],
    });
    const hit = (time: number, id: string) => ({ _source: { end_time: time, flow_id: id, bytes: 1, packets: 1, '@timestamp': time, source_label: [], dest_label: [] } });
    const page = flowPageOf({ hits: { hits: [hit(1, 'a'), hit(2, 'b'), hit(3, 'c')] } }, { limit: 2 });
    assert.deepEqual(page, { flows: [{ end_time: 1, flow_id: 'a' }, { end_time: 2, flow_id: 'b' }], next: encodeCursor({ time: 2, flowId: 'b' }) });
  });

  it('top talkers by address: one terms aggregation ordered by bytes; by workload: composite', () => {
    const terms = talkersTermsBody({}, { by: 'dest', key: 'ip', limit: 5 }) as { aggs: { talkers: { terms: Record<string, unknown> } } };
    assert.deepEqual(terms.aggs.talkers.terms, { field: 'dest_ip', size: 5, shard_size: 500, order: [{ bytes: 'desc' }, { _count: 'desc' }, { _key: 'asc' }] });
    const composite = talkersCompositeBody({}, { by: 'pair', key: 'workload', limit: 5 }, { s_ns: 'a' }) as { aggs: { groups: { composite: { sources: object[]; after: object } } } };
    assert.deepEqual(composite.aggs.groups.composite.sources.map((source) => Object.keys(source)[0]), ['s_ns', 's_wl', 's_aggr', 'd_ns', 'd_wl', 'd_aggr']);
    assert.deepEqual(composite.aggs.groups.composite.after, { s_ns: 'a' });
  });

  it('the graph: a composite over both ends and the port, missing values kept, denied flows counted', () => {
    const body = graphBody({}, 'name_aggr') as { aggs: { groups: { composite: { size: number; sources: Record<string, { terms: object }>[] } } } };
    const sources = body.aggs.groups.composite.sources;
    assert.deepEqual(sources.map((source) => Object.keys(source)[0]), ['s_ns', 's_aggr', 'd_ns', 'd_aggr', 'port']);
    assert.deepEqual(sources[4], { port: { terms: { field: 'dest_port', missing_bucket: true } } });
    assert.equal(body.aggs.groups.composite.size, 1_000);
  });

  it('callers: first seen and last seen, denied flows, per source', () => {
    const body = callersBody({ dest: { ip: ['203.0.113.66'] } }) as { query: object; aggs: { groups: { aggs: object } } };
    assert.deepEqual(body.query, { bool: { filter: [{ term: { dest_ip: '203.0.113.66' } }] } });
    assert.deepEqual(body.aggs.groups.aggs, {
      bytes: { sum: { field: 'bytes' } },
      first: { min: { field: 'start_time' } },
      last: { max: { field: 'end_time' } },
      denied: { filter: { term: { action: 'deny' } } },
    });
  });
});
