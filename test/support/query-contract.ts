/**
 * The contract every flow store passes (memory, OpenSearch, the embedded one to come), on the
 * known dataset of flow-dataset.ts. Expected answers are written out by hand from the dataset's
 * comments (which flows match, bytes per flow), never computed by a store; only the order of
 * flows ending at the same moment comes from its definition (the flow id).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flowIdOf } from '../../sink/opensearch/documents.js';
import type { FlowFilter, TimelineRequest } from '../../sink/query/flow-filter.js';
import type { Caller, FlowPage, FlowStore, GraphEdge, PageRequest, Talker } from '../../sink/query/flow-store.js';
import type { EnrichedFlow } from '../../schemas/types.js';
import { dataset, datasetFlows, flowNames, frontendPod, minute, T0, type FlowName } from './flow-dataset.js';

export interface FlowStoreSubject {
  readonly name: string;
  /** A store holding exactly these flows; called once per suite. */
  create(flows: readonly EnrichedFlow[]): Promise<FlowStore>;
  /** Removes what `create` made (indices, templates). */
  dispose?(): Promise<void>;
}

const nameById = new Map(flowNames.map((name) => [flowIdOf(datasetFlows[name]), name]));
const namesOf = (page: FlowPage) => page.flows.map((flow) => nameById.get(flow.flow_id) ?? `unknown ${flow.flow_id}`);

/** Names in the order the API defines: end time, then flow id. */
function inOrder(names: readonly FlowName[]): FlowName[] {
  const key = (name: FlowName) => ({ time: datasetFlows[name].end_time, id: flowIdOf(datasetFlows[name]) });
  return [...names].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x.time - y.time || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
  });
}

const all = { limit: 1_000 } satisfies PageRequest;
const at = (minutes: number) => T0 + minutes * minute;
const ns = (namespace: string | null, name: string) => ({ namespace, name });
const talker = (source: ReturnType<typeof ns> | undefined, dest: ReturnType<typeof ns> | undefined, flows: number, bytes: number): Talker => ({
  ...(source ? { source } : {}),
  ...(dest ? { dest } : {}),
  flows,
  bytes,
});
const edge = (source: ReturnType<typeof ns>, dest: ReturnType<typeof ns>, flows: number, bytes: number, ports: number[], deniedFlows = 0): GraphEdge => ({
  source,
  dest,
  flows,
  bytes,
  ports,
  denied: deniedFlows > 0,
  denied_flows: deniedFlows,
});

const frontend = ns('stars', 'deployment/frontend');
const backend = ns('stars', 'deployment/backend');
const client = ns('client', 'deployment/client');
const postgres = ns('data', 'statefulset/postgres');
const coredns = ns('kube-system', 'deployment/coredns');
const pub = ns(null, 'pub');
const nodeA = ns(null, 'node-a');

export function flowStoreContract(subject: FlowStoreSubject): void {
  describe(`FlowStore contract > ${subject.name}`, () => {
    let store: FlowStore;
    before(async () => {
      store = await subject.create(dataset());
    });
    after(async () => {
      await store?.close();
      await subject.dispose?.();
    });

    const flowsOf = async (filter: FlowFilter) => namesOf(await store.flows(filter, all));

    describe('flows', () => {
      it('returns every flow by end time then flow id, as the record stored plus its id', async () => {
        const page = await store.flows({}, all);
        assert.deepEqual(namesOf(page), inOrder(flowNames));
        assert.equal(page.next, undefined);
        const x1 = page.flows.find((flow) => nameById.get(flow.flow_id) === 'x1');
        assert.deepEqual(x1, { ...datasetFlows.x1, flow_id: flowIdOf(datasetFlows.x1) });
      });

      const cases: [string, FlowFilter, FlowName[]][] = [
        ['time range: from inclusive, to exclusive', { from: at(5), to: at(12) }, ['s1', 's2', 's3', 'x1', 'i1', 'n1', 'p1']],
        ['source namespace', { source: { namespace: ['stars'] } }, ['d1', 'f1', 'd2', 's1', 's2', 's3', 'x1', 'p1', 'f2', 'b1', 'x4']],
        ['dest namespace', { dest: { namespace: ['kube-system'] } }, ['d1', 'd2', 'n1']],
        ['namespace of either end', { any: [{ namespace: ['data'] }] }, ['s3', 'b1', 'x2']],
        ['source name', { source: { name: [frontendPod.name] } }, ['d1', 'f1', 's1', 's2', 's3', 'x1', 'p1', 'f2', 'x4']],
        ['name of either end', { any: [{ name: ['postgres-0'] }] }, ['s3', 'b1', 'x2']],
        ['dest aggregated name (one ReplicaSet)', { dest: { name_aggr: ['backend-5c8d7f9b6-*'] } }, ['f1', 's1', 's2', 'p1']],
        ['dest workload (both ReplicaSets)', { dest: { workload: ['deployment/backend'] } }, ['f1', 's1', 's2', 'p1', 'f2']],
        ['workload of either end', { any: [{ workload: ['statefulset/postgres'] }] }, ['s3', 'b1', 'x2']],
        ['source label', { source: { label: ['app=client'] } }, ['c1', 'c2', 'x3']],
        ['label of either end', { any: [{ label: ['tier=api'] }] }, ['f1', 'd2', 's1', 's2', 'p1', 'f2', 'b1']],
        ['every label given must be on the end', { source: { label: ['app=frontend', 'tier=web'] } }, ['d1', 'f1', 's1', 's2', 's3', 'x1', 'p1', 'f2', 'x4']],
        ['labels that no single end has', { source: { label: ['app=frontend', 'tier=api'] } }, []],
        ['dest address', { dest: { ip: ['203.0.113.66'] } }, ['x1', 'x2', 'x3', 'x4']],
        ['dest CIDR block', { dest: { ip: ['10.0.1.0/24'] } }, ['c1', 'f1', 'c2', 's1', 's2', 'i1', 'p1', 'f2']],
        ['source CIDR block', { source: { ip: ['198.51.100.0/24'] } }, ['i1']],
        ['an IPv6 block over the IPv4-mapped range holds IPv4 addresses', { source: { ip: ['::ffff:0:0/96'] } }, flowNames.filter((name) => datasetFlows[name].source_ip)],
        ['all of IPv6 holds IPv4 too', { dest: { ip: ['::/0'] } }, flowNames.filter((name) => datasetFlows[name].dest_ip)],
        ['address of either end', { any: [{ ip: ['10.0.4.11'] }] }, ['s3', 'b1', 'x2']],
        ['dest port', { dest: { port: [22] } }, ['s1', 's3']],
        ['dest ports, any of them', { dest: { port: [22, 3389] } }, ['s1', 's2', 's3']],
        ['source port', { source: { port: [55_555] } }, ['i1']],
        ['port of either end', { any: [{ port: [53] }] }, ['d1', 'd2', 'n1']],
        ['protocol udp', { proto: [17] }, ['d1', 'd2', 'n1']],
        ['protocol icmp', { proto: [1] }, ['p1']],
        ['action deny', { action: ['deny'] }, ['s1', 's2', 'x3']],
        ['reporter dst', { reporter: ['dst'] }, ['s1', 's2', 'i1']],
        ['host', { host: ['node-b'] }, ['s1', 's2']],
        ['hosts, any of them', { host: ['node-b', 'node-c'] }, ['s1', 's2', 'i1']],
        ['every filter at once', { from: at(1), to: at(20), source: { namespace: ['stars'] }, dest: { port: [22] }, action: ['deny'], proto: [6], reporter: ['dst'], host: ['node-b'] }, ['s1']],
        ['either-end conditions hold on the same end', { any: [{ namespace: ['stars'], label: ['app=client'] }] }, []],
        ['either-end conditions on one end', { any: [{ namespace: ['client'], label: ['app=client'] }] }, ['c1', 'c2', 'x3']],
        ['two either-end conditions', { any: [{ namespace: ['client'] }, { namespace: ['stars'] }] }, ['c1', 'c2']],
      ];
      for (const [title, filter, expected] of cases) {
        it(`filters by ${title}`, async () => {
          assert.deepEqual(await flowsOf(filter), inOrder(expected));
        });
      }
    });

    describe('paging', () => {
      async function allPages(filter: FlowFilter, limit: number) {
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.flows(filter, { limit, ...(cursor ? { cursor } : {}) });
          pages.push(namesOf(page));
          cursor = page.next;
          assert.ok(pages.length < 50, 'paging ends');
        } while (cursor);
        return pages;
      }

      it('pages of 5: every flow once, in order, the last page without a cursor', async () => {
        const pages = await allPages({}, 5);
        assert.deepEqual(pages.map((page) => page.length), [5, 5, 5, 2]);
        assert.deepEqual(pages.flat(), inOrder(flowNames));
      });

      it('a page exactly as long as the rest has no next cursor; one shorter leaves a page of one', async () => {
        assert.deepEqual((await allPages({}, 17)).map((page) => page.length), [17]);
        assert.deepEqual((await allPages({}, 16)).map((page) => page.length), [16, 1]);
      });

      it('pages a filtered answer, through flows ending at the same moment', async () => {
        const pages = await allPages({ source: { namespace: ['stars'] } }, 4);
        assert.deepEqual(pages.map((page) => page.length), [4, 4, 3]);
        assert.deepEqual(pages.flat(), inOrder(['d1', 'f1', 'd2', 's1', 's2', 's3', 'x1', 'p1', 'f2', 'b1', 'x4']));
        const byOne = await allPages({ action: ['deny'] }, 1);
        assert.deepEqual(byOne.flat(), inOrder(['s1', 's2', 'x3']));
      });

      it('refuses a cursor it did not give', async () => {
        await assert.rejects(store.flows({}, { limit: 5, cursor: 'bm90LWEtY3Vyc29y' }), { code: 'QUERY_BAD_CURSOR' });
      });
    });

    describe('timeline', () => {
      const around: TimelineRequest = { pod: frontendPod, at: at(5), before: 3 * minute, after: 2 * minute };

      it("everything a pod did as either end, the window's both ends included", async () => {
        assert.deepEqual(namesOf(await store.timeline(around, all)), inOrder(['f1', 'c2', 's1', 's2', 's3', 'x1']));
      });

      it('a pod by its address', async () => {
        const request: TimelineRequest = { pod: { ip: '10.0.4.11' }, at: at(13), before: 10 * minute, after: 5 * minute };
        assert.deepEqual(namesOf(await store.timeline(request, all)), inOrder(['s3', 'b1', 'x2']));
      });

      it('with more conditions; the window replaces their time range', async () => {
        const request: TimelineRequest = { ...around, before: 10 * minute, after: 10 * minute, filter: { action: ['deny'], from: at(100) } };
        assert.deepEqual(namesOf(await store.timeline(request, all)), inOrder(['s1', 's2']));
      });

      it('pages', async () => {
        const first = await store.timeline(around, { limit: 4 });
        assert.ok(first.next);
        const second = await store.timeline(around, { limit: 4, cursor: first.next });
        assert.equal(second.next, undefined);
        assert.deepEqual([...namesOf(first), ...namesOf(second)], inOrder(['f1', 'c2', 's1', 's2', 's3', 'x1']));
      });
    });

    describe('top talkers', () => {
      it('sources by workload: ReplicaSets of a workload together, outside ends by aggregated name', async () => {
        assert.deepEqual(await store.topTalkers({}, { by: 'source', key: 'workload', limit: 10 }), [
          talker(frontend, undefined, 9, 66_364),
          talker(client, undefined, 3, 5_600),
          talker(backend, undefined, 2, 4_720),
          talker(pub, undefined, 1, 1_400),
          talker(postgres, undefined, 1, 1_200),
          talker(nodeA, undefined, 1, 180),
        ]);
      });

      it('sources by aggregated name', async () => {
        assert.deepEqual(await store.topTalkers({}, { by: 'source', key: 'name_aggr', limit: 10 }), [
          talker(ns('stars', 'frontend-7d9f8c6b5-*'), undefined, 9, 66_364),
          talker(ns('client', 'client-7d9f8c6b5-*'), undefined, 3, 5_600),
          talker(ns('stars', 'backend-6f7b9c8d4-*'), undefined, 1, 4_500),
          talker(pub, undefined, 1, 1_400),
          talker(ns('data', 'postgres-*'), undefined, 1, 1_200),
          talker(ns('stars', 'backend-5c8d7f9b6-*'), undefined, 1, 220),
          talker(nodeA, undefined, 1, 180),
        ]);
      });

      it('sources by address, the first 3', async () => {
        assert.deepEqual(await store.topTalkers({}, { by: 'source', key: 'ip', limit: 3 }), [
          talker(ns(null, '10.0.1.11'), undefined, 9, 66_364),
          talker(ns(null, '10.0.2.11'), undefined, 3, 5_600),
          talker(ns(null, '10.0.1.31'), undefined, 1, 4_500),
        ]);
      });

      it('destinations by workload and by address', async () => {
        assert.deepEqual(await store.topTalkers({}, { by: 'dest', key: 'workload', limit: 10 }), [
          talker(undefined, pub, 4, 53_600),
          talker(undefined, postgres, 2, 14_500),
          talker(undefined, frontend, 3, 6_900),
          talker(undefined, backend, 5, 3_864),
          talker(undefined, coredns, 3, 600),
        ]);
        assert.deepEqual(await store.topTalkers({}, { by: 'dest', key: 'ip', limit: 10 }), [
          talker(undefined, ns(null, '203.0.113.66'), 4, 53_600),
          talker(undefined, ns(null, '10.0.4.11'), 2, 14_500),
          talker(undefined, ns(null, '10.0.1.11'), 3, 6_900),
          talker(undefined, ns(null, '10.0.1.21'), 4, 2_864),
          talker(undefined, ns(null, '10.0.1.31'), 1, 1_000),
          talker(undefined, ns(null, '10.0.0.10'), 3, 600),
        ]);
      });

      it('pairs by workload, all of them', async () => {
        assert.deepEqual(await store.topTalkers({}, { by: 'pair', key: 'workload', limit: 100 }), [
          talker(frontend, pub, 2, 52_300),
          talker(frontend, postgres, 1, 10_000),
          talker(client, frontend, 2, 5_500),
          talker(backend, postgres, 1, 4_500),
          talker(frontend, backend, 5, 3_864),
          talker(pub, frontend, 1, 1_400),
          talker(postgres, pub, 1, 1_200),
          talker(backend, coredns, 1, 220),
          talker(frontend, coredns, 1, 200),
          talker(nodeA, coredns, 1, 180),
          talker(client, pub, 1, 100),
        ]);
      });

      it('pairs by address, the first 4', async () => {
        assert.deepEqual(await store.topTalkers({}, { by: 'pair', key: 'ip', limit: 4 }), [
          talker(ns(null, '10.0.1.11'), ns(null, '203.0.113.66'), 2, 52_300),
          talker(ns(null, '10.0.1.11'), ns(null, '10.0.4.11'), 1, 10_000),
          talker(ns(null, '10.0.2.11'), ns(null, '10.0.1.11'), 2, 5_500),
          talker(ns(null, '10.0.1.31'), ns(null, '10.0.4.11'), 1, 4_500),
        ]);
      });

      it('of the flows a filter keeps', async () => {
        assert.deepEqual(await store.topTalkers({ dest: { namespace: ['stars'] } }, { by: 'source', key: 'workload', limit: 10 }), [
          talker(client, undefined, 2, 5_500),
          talker(frontend, undefined, 5, 3_864),
          talker(pub, undefined, 1, 1_400),
        ]);
        assert.deepEqual(await store.topTalkers({ action: ['deny'] }, { by: 'source', key: 'ip', limit: 10 }), [
          talker(ns(null, '10.0.1.11'), undefined, 2, 200),
          talker(ns(null, '10.0.2.11'), undefined, 1, 100),
        ]);
      });
    });

    describe('service graph', () => {
      it('every edge touching a namespace, with ports and denials', async () => {
        assert.deepEqual(await store.serviceGraph({ any: [{ namespace: ['stars'] }] }, 'workload'), [
          edge(pub, frontend, 1, 1_400, [443]),
          edge(client, frontend, 2, 5_500, [80]),
          edge(backend, postgres, 1, 4_500, [5432]),
          edge(backend, coredns, 1, 220, [53]),
          edge(frontend, pub, 2, 52_300, [443]),
          edge(frontend, postgres, 1, 10_000, [22]),
          edge(frontend, coredns, 1, 200, [53]),
          edge(frontend, backend, 5, 3_864, [22, 3389, 6379], 2),
        ]);
      });

      it('the whole graph', async () => {
        const edges = await store.serviceGraph({}, 'workload');
        assert.deepEqual(edges, [
          edge(nodeA, coredns, 1, 180, [53]),
          edge(pub, frontend, 1, 1_400, [443]),
          edge(client, pub, 1, 100, [8080], 1),
          edge(client, frontend, 2, 5_500, [80]),
          edge(postgres, pub, 1, 1_200, [443]),
          edge(backend, postgres, 1, 4_500, [5432]),
          edge(backend, coredns, 1, 220, [53]),
          edge(frontend, pub, 2, 52_300, [443]),
          edge(frontend, postgres, 1, 10_000, [22]),
          edge(frontend, coredns, 1, 200, [53]),
          edge(frontend, backend, 5, 3_864, [22, 3389, 6379], 2),
        ]);
      });

      it('by aggregated name, in a time range (an ICMP edge has no port)', async () => {
        assert.deepEqual(await store.serviceGraph({ from: at(10) }, 'name_aggr'), [
          edge(ns('client', 'client-7d9f8c6b5-*'), pub, 1, 100, [8080], 1),
          edge(ns('data', 'postgres-*'), pub, 1, 1_200, [443]),
          edge(ns('stars', 'backend-6f7b9c8d4-*'), ns('data', 'postgres-*'), 1, 4_500, [5432]),
          edge(ns('stars', 'frontend-7d9f8c6b5-*'), pub, 1, 800, [443]),
          edge(ns('stars', 'frontend-7d9f8c6b5-*'), ns('stars', 'backend-5c8d7f9b6-*'), 1, 164, []),
          edge(ns('stars', 'frontend-7d9f8c6b5-*'), ns('stars', 'backend-6f7b9c8d4-*'), 1, 1_000, [6379]),
        ]);
      });
    });

    describe('who talked to', () => {
      const fe: Caller['source'] = { ip: '10.0.1.11', namespace: 'stars', name: frontendPod.name, workload: 'deployment/frontend' };
      const pg: Caller['source'] = { ip: '10.0.4.11', namespace: 'data', name: 'postgres-0', workload: 'statefulset/postgres' };
      const cl: Caller['source'] = { ip: '10.0.2.11', namespace: 'client', name: 'client-7d9f8c6b5-c9o0p', workload: 'deployment/client' };
      const caller = (source: Caller['source'], flows: number, bytes: number, denied: number, first: number, last: number): Caller => ({
        source,
        flows,
        bytes,
        denied_flows: denied,
        first_seen: first,
        last_seen: last,
      });

      it('every source of a public address, by first seen', async () => {
        const expected = [caller(fe, 2, 52_300, 0, at(7) - 5_000, at(16)), caller(pg, 1, 1_200, 0, at(14) - 5_000, at(14)), caller(cl, 1, 100, 1, at(15) - 5_000, at(15))];
        assert.deepEqual(await store.whoTalkedTo('203.0.113.66', {}), expected);
        assert.deepEqual(await store.whoTalkedTo('203.0.113.0/24', {}), expected);
      });

      it('with a filter', async () => {
        assert.deepEqual(await store.whoTalkedTo('203.0.113.66', { from: at(10) }), [
          caller(pg, 1, 1_200, 0, at(14) - 5_000, at(14)),
          caller(cl, 1, 100, 1, at(15) - 5_000, at(15)),
          caller(fe, 1, 800, 0, at(16) - 5_000, at(16)),
        ]);
        assert.deepEqual(await store.whoTalkedTo('203.0.113.66', { action: ['deny'] }), [caller(cl, 1, 100, 1, at(15) - 5_000, at(15))]);
      });

      it('sources outside the cluster have no namespace, name or workload', async () => {
        assert.deepEqual(await store.whoTalkedTo('10.0.1.11', {}), [
          caller(cl, 2, 5_500, 0, at(1) - 5_000, at(3)),
          caller({ ip: '198.51.100.7', namespace: null, name: null, workload: null }, 1, 1_400, 0, at(8) - 5_000, at(8)),
        ]);
      });

      it('nobody talked to an unused address', async () => {
        assert.deepEqual(await store.whoTalkedTo('192.0.2.1', {}), []);
      });
    });
  });
}
