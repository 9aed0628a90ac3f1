import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedStore } from '../../../../sink/embedded/embedded-store.js';
import { flowCondition } from '../../../../sink/embedded/flow-conditions.js';
import type { EnrichedFlow } from '../../../../schemas/types.js';
import { timelineFilter, whoTalkedToFilter, type FlowFilter, type GraphNode, type TalkerKey, type TalkerSide } from '../../../../sink/query/flow-filter.js';
import type { FlowStore } from '../../../../sink/query/flow-store.js';
import { MemoryFlowStore } from '../../../../sink/query/memory-flow-store.js';
import { deploymentPod, enrichedFlow, nodeAddress, publicAddress, type FlowEndSpec } from '../../../support/enriched-flows.js';
import { flowStoreContract } from '../../../support/query-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'flowsentry-embedded-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let store: EmbeddedStore | undefined;

flowStoreContract({
  name: 'EmbeddedStore',
  async create(flows) {
    store = EmbeddedStore.open(join(dir, 'store.db'));
    const rejected = await store.outlet().write(flows.map((record) => ({ record: { kind: 'flow', record } })));
    assert.deepEqual(rejected, []);
    assert.equal(store.counts().flows, flows.length);
    return store.flowStore();
  },
  async dispose() {
    store?.close();
  },
});

describe('Sink > embedded > flow store candidates', () => {
  const path = join(dir, 'plans.db');
  EmbeddedStore.open(path).close();

  /** The indexes SQLite searches for a filter's candidates. */
  function indexesFor(filter: FlowFilter): string[] {
    const db = new Database(path, { readonly: true });
    try {
      const condition = flowCondition(filter);
      const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT flow_id FROM flows WHERE ${condition.sql}`).all(...condition.params) as { detail: string }[];
      return plan.flatMap((step) => /USING (?:COVERING )?INDEX (\w+)/.exec(step.detail)?.[1] ?? []).sort();
    } finally {
      db.close();
    }
  }

  it('searches the indexes of the conditions, never the whole table', () => {
    assert.deepEqual(indexesFor({ from: 1, to: 2 }), ['flows_position']);
    assert.deepEqual(indexesFor(whoTalkedToFilter('203.0.113.0/24', {})), ['flows_dest_ip']);
    assert.deepEqual(indexesFor({ source: { ip: ['10.0.0.1'] } }), ['flows_source_ip']);
    assert.deepEqual(indexesFor({ dest: { namespace: ['data', 'stars'] } }), ['flows_dest_namespace']);
    assert.deepEqual(indexesFor(timelineFilter({ pod: { namespace: 'stars', name: 'frontend-1' }, at: 1_000, before: 10, after: 10 })), [
      'flows_dest_namespace',
      'flows_source_namespace',
    ]);
  });

  it('leaves out only what the columns cannot say: labels', () => {
    assert.deepEqual(flowCondition({ source: { label: ['app=web'] }, any: [{ label: ['tier=api'] }] }), { sql: '1', params: [], exact: false });
    const { sql, params, exact } = flowCondition({ from: 5, dest: { port: [22, 3389], label: ['app=db'] }, proto: [6], any: [{ workload: ['deployment/web'] }] });
    assert.equal(sql, '(end_time >= ?) AND (dest_port IN (?, ?)) AND ((source_workload = ?) OR (dest_workload = ?)) AND (proto = ?)');
    assert.deepEqual(params, [5, 22, 3389, 'deployment/web', 'deployment/web', 6]);
    assert.equal(exact, false);
    assert.equal(flowCondition({ from: 5, dest: { port: [22] }, any: [{ workload: ['deployment/web'], ip: ['10.0.0.0/8'] }] }).exact, true);
    assert.deepEqual(flowCondition({ dest: { ip: ['not-an-address'] } }), { sql: '0', params: [], exact: true });
  });
});

describe('Sink > embedded > flow store against the memory store', () => {
  // Pods with labels that differ within a workload, IPv6 pods, addresses outside the cluster, a node.
  const ends: FlowEndSpec[] = [
    ...Array.from({ length: 12 }, (_, i) => ({
      ...deploymentPod(`ns-${i % 3}`, `app-${i % 4}`, i % 5 === 4 ? `fd00::${i + 1}` : `10.7.${i % 2}.${i + 10}`, `p${i}`, i % 2 === 0 ? '5c8d7f9b6' : '6f7b9c8d4'),
      labels: { app: `app-${i % 4}`, tier: i % 3 === 0 ? 'web' : 'api', ...(i % 4 === 1 ? { canary: 'true' } : {}) },
    })),
    publicAddress('203.0.113.7'),
    publicAddress('198.51.100.20'),
    nodeAddress('node-z', '10.0.0.5'),
  ];
  const start = Date.UTC(2026, 10, 27, 8);
  const flows: EnrichedFlow[] = Array.from({ length: 1_200 }, (_, i) =>
    enrichedFlow(ends[(i * 7) % ends.length]!, ends[(i * 11 + 3) % ends.length]!, {
      at: start + Math.floor(i / 3) * 20_000,
      port: i % 13 === 0 ? null : [80, 443, 5432, 22][i % 4]!,
      proto: i % 13 === 0 ? 1 : i % 9 === 0 ? 17 : 6,
      action: i % 5 === 1 ? 'deny' : 'allow',
      reporter: i % 2 === 0 ? 'src' : 'dst',
      packets: 1 + (i % 17),
      bytesOut: (i * 37) % 5_000,
    }),
  );
  let embedded: EmbeddedStore;
  let memory: FlowStore;
  const filters: [string, FlowFilter][] = [
    ['everything', {}],
    ['an hour', { from: start + 600_000, to: start + 4_200_000 }],
    ['a namespace at either end, denied', { any: [{ namespace: ['ns-1'] }], action: ['deny'] }],
    ['an IPv6 block', { any: [{ ip: ['fd00::/64'] }] }],
    ['source label (checked in TypeScript)', { source: { label: ['tier=web'] } }],
    ['either-end label and namespace on one end', { any: [{ label: ['canary=true'], namespace: ['ns-1'] }], from: start + 1_000_000 }],
    ['dest labels, several', { dest: { label: ['app=app-2', 'tier=api'] }, proto: [6, 17] }],
  ];

  it('fills a store through the outlet', async () => {
    embedded = EmbeddedStore.open(join(dir, 'versus-memory.db'));
    assert.deepEqual(await embedded.outlet().write(flows.map((record) => ({ record: { kind: 'flow', record } }))), []);
    memory = new MemoryFlowStore(flows);
  });

  for (const [title, filter] of filters) {
    it(`answers every question the same: ${title}`, async () => {
      const store = embedded.flowStore();
      const page = await store.flows(filter, { limit: 10_000 });
      assert.deepEqual(page, await memory.flows(filter, { limit: 10_000 }));
      assert.ok(page.flows.length > 0, 'the filter matches some flows');
      for (const by of ['source', 'dest', 'pair'] as TalkerSide[]) {
        for (const key of ['workload', 'name_aggr', 'ip'] as TalkerKey[]) {
          assert.deepEqual(await store.topTalkers(filter, { by, key, limit: 1_000 }), await memory.topTalkers(filter, { by, key, limit: 1_000 }), `${by} by ${key}`);
        }
      }
      for (const node of ['workload', 'name_aggr'] as GraphNode[]) assert.deepEqual(await store.serviceGraph(filter, node), await memory.serviceGraph(filter, node), node);
      for (const ip of ['203.0.113.7', '10.7.0.0/16', 'fd00::/16', '::/0']) assert.deepEqual(await store.whoTalkedTo(ip, filter), await memory.whoTalkedTo(ip, filter), ip);
    });
  }

  it('closes', () => embedded.close());
});
