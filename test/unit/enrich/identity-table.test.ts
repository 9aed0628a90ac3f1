import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IdentityTable } from '../../../enrich/identity-table.js';
import { inventoryEventOf } from '../../../enrich/kubernetes-objects.js';
import type { InventoryEvent } from '../../../schemas/types.js';
import { endpointSlice, modified, node, pod, service } from '../../support/kubernetes-objects.js';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;

function event(type: InventoryEvent['type'], object: Record<string, unknown>, time: number): InventoryEvent {
  const result = inventoryEventOf(type, object, time);
  assert.ok(result, 'an inventory event');
  return result;
}

function tableOf(events: readonly InventoryEvent[], retentionMs?: number): IdentityTable {
  const table = new IdentityTable(retentionMs === undefined ? {} : { retentionMs });
  for (const e of events) table.apply(e);
  return table;
}

/** The IP-reuse story: payments/api holds 10.1.0.5 from 0 s to 60 s, attacker/shell from 80 s on. */
function reuseStory() {
  const first = pod({ name: 'api-7d9f8c6b5d-x2k9q', namespace: 'payments', ip: '10.1.0.5', labels: { app: 'api', 'pod-template-hash': '7d9f8c6b5d' }, owner: { kind: 'ReplicaSet', name: 'api-7d9f8c6b5d' }, serviceAccount: 'api' });
  const second = pod({ name: 'shell', namespace: 'attacker', ip: '10.1.0.5', labels: { app: 'shell' } });
  return [event('ADDED', first, s(0)), event('DELETED', first, s(60)), event('ADDED', second, s(80))];
}

describe('Enrich > identity table', () => {
  describe('a pod IP reused by a pod of another namespace 20 s after the first ended', () => {
    const table = tableOf(reuseStory());

    it('answers who held the address at the flow time, before and after the reuse', () => {
      assert.equal(table.endpointAt('10.1.0.5', s(10), s(20))?.namespace, 'payments');
      assert.equal(table.endpointAt('10.1.0.5', s(59), s(59))?.name, 'api-7d9f8c6b5d-x2k9q');
      assert.equal(table.endpointAt('10.1.0.5', s(80), s(80))?.namespace, 'attacker');
      assert.equal(table.endpointAt('10.1.0.5', s(3600), s(3610))?.name, 'shell');
    });

    it('knows nobody in the gap, and a deleted pod is not answered at its delete time', () => {
      assert.equal(table.endpointAt('10.1.0.5', s(60), s(60)), undefined);
      assert.equal(table.endpointAt('10.1.0.5', s(65), s(75)), undefined);
    });

    it('gives a flow that straddles an end to the object that held the address longest in it', () => {
      assert.equal(table.endpointAt('10.1.0.5', s(50), s(70))?.namespace, 'payments');
      assert.equal(table.endpointAt('10.1.0.5', s(70), s(95))?.namespace, 'attacker');
    });

    it('accepts, within a lookahead, an object the inventory saw just after the flow', () => {
      assert.equal(table.endpointAt('10.1.0.5', s(78), s(79), 2_000)?.namespace, 'attacker');
      assert.equal(table.endpointAt('10.1.0.5', s(70), s(75), 2_000), undefined);
    });

    it('derives workload, aggregated name, service account and node from the pod', () => {
      const api = table.endpointAt('10.1.0.5', s(1), s(1));
      assert.deepEqual(api, {
        type: 'wep',
        namespace: 'payments',
        name: 'api-7d9f8c6b5d-x2k9q',
        nameAggr: 'api-7d9f8c6b5d-*',
        labels: { app: 'api', 'pod-template-hash': '7d9f8c6b5d' },
        serviceAccount: 'api',
        node: 'node-a',
        workload: 'deployment/api',
      });
    });
  });

  it('gives the same answers whatever order the events arrive in', () => {
    const events = reuseStory();
    const probes = [0, 10, 59, 60, 70, 80, 90].map((second) => s(second));
    const expected = probes.map((time) => tableOf(events).endpointAt('10.1.0.5', time, time)?.name ?? null);
    assert.deepEqual(expected, ['api-7d9f8c6b5d-x2k9q', 'api-7d9f8c6b5d-x2k9q', 'api-7d9f8c6b5d-x2k9q', null, null, 'shell', 'shell']);
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (shuffled) => {
        const table = tableOf(shuffled);
        assert.deepEqual(
          probes.map((time) => table.endpointAt('10.1.0.5', time, time)?.name ?? null),
          expected,
        );
      }),
    );
    assert.ok(tableOf([...events].reverse()).stats.reordered > 0, 'out-of-order events are counted');
  });

  it('closes a pod that reached Succeeded or Failed, even when its delete never comes', () => {
    const job = pod({ name: 'backup-29012345-abcde', namespace: 'ops', ip: '10.1.0.9', owner: { kind: 'Job', name: 'backup-29012345' } });
    const next = pod({ name: 'web-0', namespace: 'shop', ip: '10.1.0.9', owner: { kind: 'StatefulSet', name: 'web' } });
    const table = tableOf([event('ADDED', job, s(0)), event('MODIFIED', modified(job, { phase: 'Succeeded' }), s(30)), event('ADDED', next, s(31))]);
    assert.equal(table.endpointAt('10.1.0.9', s(10), s(10))?.workload, 'cronjob/backup');
    assert.equal(table.endpointAt('10.1.0.9', s(30), s(30)), undefined);
    const web = table.endpointAt('10.1.0.9', s(40), s(40));
    assert.equal(web?.name, 'web-0');
    assert.equal(web?.nameAggr, 'web-*');
    assert.equal(web?.workload, 'statefulset/web');
  });

  it('gives a flow the labels its pod had at the flow time', () => {
    const web = pod({ name: 'web', namespace: 'shop', ip: '10.1.0.7', labels: { tier: 'web' } });
    const table = tableOf([event('ADDED', web, s(0)), event('MODIFIED', modified(web, { labels: { tier: 'web', quarantine: 'true' } }), s(50))]);
    assert.deepEqual(table.endpointAt('10.1.0.7', s(10), s(10))?.labels, { tier: 'web' });
    assert.deepEqual(table.endpointAt('10.1.0.7', s(51), s(51))?.labels, { tier: 'web', quarantine: 'true' });
  });

  it('does not store a change that changes nothing it keeps', () => {
    const web = pod({ name: 'web', namespace: 'shop', ip: '10.1.0.7' });
    const table = tableOf([event('ADDED', web, s(0)), event('MODIFIED', web, s(5)), event('MODIFIED', web, s(9))]);
    assert.equal(table.stats.claims, 1);
    assert.equal(table.stats.versions, 1, 'status updates are not kept');
  });

  it('picks a deterministic answer when two pods claim one address at once, and counts the conflict', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.8', uid: 'uid-a' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.8', uid: 'uid-b' });
    const events = [event('ADDED', a, s(0)), event('ADDED', b, s(10))];
    for (const order of [events, [...events].reverse()]) {
      const table = tableOf(order);
      assert.equal(table.endpointAt('10.1.0.8', s(20), s(20))?.name, 'b', 'the later claim wins');
      assert.equal(table.endpointAt('10.1.0.8', s(5), s(5))?.name, 'a', 'before the second claim there was no conflict');
      assert.equal(table.stats.conflicts, 1);
    }
  });

  it('resolves node addresses and hostNetwork pods to host endpoints of the node', () => {
    const agent = pod({ name: 'node-exporter-abcde', namespace: 'monitoring', ip: '10.0.1.23', node: 'node-b', hostNetwork: true, owner: { kind: 'DaemonSet', name: 'node-exporter' } });
    const onlyPod = tableOf([event('ADDED', agent, s(0))]);
    assert.deepEqual(onlyPod.endpointAt('10.0.1.23', s(1), s(1)), {
      type: 'hep', namespace: null, name: 'node-b', nameAggr: 'node-b', labels: {}, serviceAccount: null, node: 'node-b', workload: null,
    });
    const withNode = tableOf([event('ADDED', agent, s(0)), event('ADDED', node('node-b', '10.0.1.23', { zone: 'a' }), s(0))]);
    const hep = withNode.endpointAt('10.0.1.23', s(1), s(1));
    assert.equal(hep?.type, 'hep');
    assert.deepEqual(hep?.labels, { zone: 'a' }, 'the Node object outranks the pod sharing its address');
    assert.equal(withNode.stats.conflicts, 0);
  });

  it('finds the Service of a cluster IP, and of a backend address by target port', () => {
    const table = tableOf([
      event('ADDED', service('backend', 'stars', '172.20.0.10', [{ name: 'redis', port: 6379, targetPort: 6379 }]), s(0)),
      event('ADDED', endpointSlice('backend', 'stars', ['10.1.0.20'], [{ name: 'redis', port: 6379 }]), s(0)),
    ]);
    assert.deepEqual(table.serviceAt('172.20.0.10', 6379, 'TCP', s(1), s(1))?.port?.name, 'redis');
    assert.equal(table.serviceAt('10.1.0.20', 6379, 'TCP', s(1), s(1))?.service.name, 'backend');
    assert.equal(table.serviceAt('10.1.0.20', 22, 'TCP', s(1), s(1)), undefined, 'a port the slice does not serve');
    assert.equal(table.serviceAt('10.1.0.20', 6379, 'UDP', s(1), s(1)), undefined, 'another protocol');
  });

  it('forgets what ended before the retention, and keeps what is still held', () => {
    const story = reuseStory();
    const table = tableOf(story, 60_000);
    assert.equal(table.stats.objects, 2);
    table.expire(s(100));
    assert.equal(table.endpointAt('10.1.0.5', s(10), s(10))?.namespace, 'payments', 'ended 40 s before: kept');
    table.expire(s(200));
    assert.equal(table.endpointAt('10.1.0.5', s(10), s(10)), undefined);
    assert.equal(table.endpointAt('10.1.0.5', s(210), s(210))?.namespace, 'attacker');
    assert.equal(table.stats.objects, 1);
    assert.equal(table.stats.claims, 1);
    assert.equal(table.stats.expired, 1);
    const payments = story[0]!;
    table.apply({ ...payments, type: 'MODIFIED', observed_time: s(30) });
    assert.equal(table.endpointAt('10.1.0.5', s(210), s(210))?.namespace, 'attacker', 'a late event does not bring a removed pod back');
    assert.equal(table.stats.lateForRemoved, 1);
  });

  it('runs retention in slices when given a budget, going on where the last call stopped', () => {
    const pods = [1, 2, 3].map((i) => pod({ name: `p${i}`, namespace: 'x', ip: `10.1.1.${i}` }));
    const table = tableOf(pods.flatMap((p) => [event('ADDED', p, s(0)), event('DELETED', p, s(10))]), 60_000);
    const left = [1, 2, 3].map(() => {
      table.expire(s(1000), 1);
      return table.stats.objects;
    });
    assert.deepEqual(left, [2, 1, 0]);
    assert.equal(table.stats.claims, 0);
  });

  it('keeps IPv6 addresses under one spelling', () => {
    const v6 = pod({ name: 'v6', namespace: 'shop', ip: '2600:1f18:0:0:0:0:0:a' });
    const table = tableOf([event('ADDED', v6, s(0))]);
    assert.equal(table.endpointAt('2600:1f18::a', s(1), s(1))?.name, 'v6');
  });
});
