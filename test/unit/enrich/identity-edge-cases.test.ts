import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EnrichCore } from '../../../enrich/enrich-core.js';
import { IdentityTable } from '../../../enrich/identity-table.js';
import { inventoryEventOf, listObservedTime } from '../../../enrich/kubernetes-objects.js';
import type { InventoryEvent } from '../../../schemas/types.js';
import { addressOnlyFlow } from '../../support/flows.js';
import { endpointSlice, modified, node, pod } from '../../support/kubernetes-objects.js';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;
const event = (type: InventoryEvent['type'], object: Record<string, unknown>, time: number) => inventoryEventOf(type, object, time)!;

function tableOf(events: readonly InventoryEvent[]): IdentityTable {
  const table = new IdentityTable();
  for (const e of events) table.apply(e);
  return table;
}

describe('Enrich > identity table > edge cases', () => {
  it('does not lend the grace to a new pod when another gave the address up just before the flow', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.5' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.5' });
    const table = tableOf([event('ADDED', a, s(0)), event('DELETED', a, s(60)), event('ADDED', b, s(61.5))]);
    assert.equal(table.endpointAt('10.1.0.5', s(60.2), s(60.5), 2_000), undefined, "perhaps a's last packets: nobody rather than perhaps the wrong pod");
    assert.equal(table.endpointAt('10.1.0.5', s(65), s(66), 2_000)?.name, 'b');
  });

  it('gives a recorded ADDED precedence over a listed object taken as valid from the beginning of time', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.5' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.5' });
    const events = [event('ADDED', b, listObservedTime), event('ADDED', a, s(10)), event('DELETED', a, s(20)), event('ADDED', modified(b, { ip: null, phase: 'Pending' }), s(25)), event('MODIFIED', b, s(26))];
    for (const order of [events, [...events].reverse()]) {
      const table = tableOf(order);
      assert.equal(table.endpointAt('10.1.0.5', s(21), s(22)), undefined, 'b did not exist before its ADDED');
      assert.equal(table.endpointAt('10.1.0.5', s(12), s(18))?.name, 'a');
      assert.equal(table.endpointAt('10.1.0.5', s(27), s(28))?.name, 'b');
    }
  });

  it('orders changes observed at one time by resourceVersion, whatever order they arrive in', () => {
    const web = pod({ name: 'web', namespace: 'shop', ip: '10.1.0.8' });
    const withoutIp = modified(web, { ip: null, phase: 'Pending' });
    const added = { ...event('ADDED', withoutIp, s(5)), resource_version: '10' };
    const running = { ...event('MODIFIED', web, s(5)), resource_version: '11' };
    for (const order of [[added, running], [running, added]]) {
      assert.equal(tableOf(order).endpointAt('10.1.0.8', s(6), s(6))?.name, 'web');
    }
  });

  it('names nobody for a flow that straddles a hand-over between different objects, and the last taker after it', () => {
    const hostPod = pod({ name: 'agent', namespace: 'ops', ip: '10.0.1.9', node: 'node-x', hostNetwork: true });
    const reused = pod({ name: 'web', namespace: 'shop', ip: '10.0.1.9' });
    const nodeX = node('node-x', '10.0.1.9');
    const table = tableOf([event('ADDED', nodeX, s(0)), event('DELETED', nodeX, s(100)), event('ADDED', reused, s(99.5)), event('ADDED', hostPod, s(0)), event('DELETED', hostPod, s(99))]);
    assert.equal(table.endpointAt('10.0.1.9', s(50), s(99))?.type, 'hep', 'the node and its hostNetwork pod say the same thing');
    assert.equal(table.endpointAt('10.0.1.9', s(50), s(100)), undefined, 'node, then web: perhaps either');
    assert.equal(table.endpointAt('10.0.1.9', s(99.6), s(101))?.name, 'web', 'wholly after web took the address (its DELETED may come late)');
    assert.equal(table.stats.ambiguous, 1);
  });

  it('takes a new pod on the address as proof the old one gave it up, even when its DELETED is late or lost', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.6' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.6' });
    const late = tableOf([event('ADDED', a, s(0)), event('ADDED', b, s(100)), event('DELETED', a, s(106))]);
    assert.equal(late.endpointAt('10.1.0.6', s(101), s(105))?.name, 'b', "a's DELETED came after b took the address");
    assert.equal(late.endpointAt('10.1.0.6', s(50), s(60))?.name, 'a');
    const lost = tableOf([event('ADDED', a, s(0)), event('ADDED', b, s(100)), event('DELETED', b, s(250))]);
    assert.equal(lost.endpointAt('10.1.0.6', s(250), s(251)), undefined, "a's DELETED never came, yet a gave the address up at 100 s");
  });

  it('names nobody for a flow that straddles a hand-over inside one interval', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.7' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.7' });
    const table = tableOf([event('ADDED', a, s(0)), event('MODIFIED', modified(a, { phase: 'Succeeded' }), s(102.5)), event('ADDED', b, s(104))]);
    assert.equal(table.endpointAt('10.1.0.7', s(100), s(110)), undefined);
    assert.equal(table.endpointAt('10.1.0.7', s(90), s(100))?.name, 'a');
    assert.equal(table.endpointAt('10.1.0.7', s(110), s(120))?.name, 'b');
  });

  it('does not give a listed object the time before a recorded pod held its address', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.9' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.9' });
    const table = tableOf([event('ADDED', b, listObservedTime), event('ADDED', a, s(100)), event('DELETED', a, s(200))]);
    assert.equal(table.endpointAt('10.1.0.9', s(50), s(60)), undefined, 'before a: not b');
    assert.equal(table.endpointAt('10.1.0.9', s(150), s(160))?.name, 'a');
    assert.equal(table.endpointAt('10.1.0.9', s(195), s(201)), undefined, 'a, then b');
    assert.equal(table.endpointAt('10.1.0.9', s(210), s(220))?.name, 'b');
  });

  it('ignores what follows an object\'s end, on every path', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.4' });
    const events = [event('ADDED', a, s(0)), event('DELETED', a, s(100)), event('MODIFIED', a, s(100.001))];
    for (const order of [events, [events[1]!, events[0]!, events[2]!]]) {
      const table = tableOf(order);
      assert.equal(table.endpointAt('10.1.0.4', s(200), s(201)), undefined);
      assert.equal(table.endpointAt('10.1.0.4', s(50), s(51))?.name, 'a');
      assert.equal(table.stats.afterEnd, 1);
    }
  });

  it('after a restart from a compacted topic (only the DELETED of the old pod), does not lend the grace across the hand-over', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.3' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.3' });
    const restored = tableOf([event('DELETED', a, s(99)), event('ADDED', b, s(100))]);
    assert.equal(restored.endpointAt('10.1.0.3', s(99.2), s(99.5), 2_000), undefined, "perhaps a's last packets");
    assert.equal(restored.endpointAt('10.1.0.3', s(100.5), s(101), 2_000)?.name, 'b');
  });

  it('answers a flow older than what retention forgot only from claims still known', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.2' });
    const b = pod({ name: 'b', namespace: 'two', ip: '10.1.0.2' });
    const listed = pod({ name: 'c', namespace: 'three', ip: '10.1.0.12' });
    const other = pod({ name: 'd', namespace: 'four', ip: '10.1.0.12' });
    const table = new IdentityTable({ retentionMs: 60_000 });
    for (const e of [event('ADDED', a, s(0)), event('DELETED', a, s(100)), event('ADDED', b, s(101)), event('ADDED', listed, listObservedTime), event('ADDED', other, s(10)), event('DELETED', other, s(20))]) table.apply(e);
    table.expire(s(1000));
    assert.equal(table.endpointAt('10.1.0.2', s(99.5), s(100.5), 2_000), undefined, "a's claim is gone: no lookahead to b");
    assert.equal(table.endpointAt('10.1.0.12', s(15), s(16)), undefined, "d's claim is gone: not the listed c");
    assert.equal(table.endpointAt('10.1.0.2', s(500), s(501))?.name, 'b', 'b still holds it: known');
  });

  it('keeps the answer when a late change lands before one that changed nothing', () => {
    const web = pod({ name: 'db', namespace: 'shop', ip: '10.1.0.13', labels: { role: 'primary' } });
    const replica = modified(web, { labels: { role: 'replica' } });
    const e1 = event('ADDED', web, s(0));
    const e2 = event('MODIFIED', replica, s(20));
    const e3 = event('MODIFIED', web, s(25));
    const e4 = event('MODIFIED', web, s(40));
    const inOrder = tableOf([e1, e2, e3, e4]);
    const late = tableOf([e1, e3, e4, e2]);
    for (const at of [10, 22, 30, 45]) {
      assert.deepEqual(late.endpointAt('10.1.0.13', s(at), s(at))?.labels, inOrder.endpointAt('10.1.0.13', s(at), s(at))?.labels, `labels at ${at} s`);
    }
    assert.deepEqual(late.endpointAt('10.1.0.13', s(30), s(30))?.labels, { role: 'primary' });
  });

  it('counts no conflict between hostNetwork pods of one node', () => {
    const table = tableOf([0, 1, 2].map((i) => event('ADDED', pod({ name: `agent-${i}`, namespace: 'ops', ip: '10.0.1.10', node: 'node-y', hostNetwork: true }), s(0))));
    for (let i = 0; i < 10; i++) assert.equal(table.endpointAt('10.0.1.10', s(5), s(6))?.name, 'node-y');
    assert.equal(table.stats.conflicts, 0);
  });

  it('finds the Service of a pod that backs several, by port', () => {
    const table = tableOf([
      event('ADDED', endpointSlice('web', 'shop', ['10.1.0.7'], [{ name: 'http', port: 8080 }]), s(0)),
      event('ADDED', endpointSlice('web-metrics', 'shop', ['10.1.0.7'], [{ name: 'metrics', port: 9090 }]), s(0)),
    ]);
    assert.equal(table.serviceAt('10.1.0.7', 8080, 'TCP', s(1), s(1))?.service.name, 'web');
    assert.equal(table.serviceAt('10.1.0.7', 9090, 'TCP', s(1), s(1))?.service.name, 'web-metrics');
  });

  it('skips and counts network-set entries that are not CIDR blocks, and goes on matching the rest', () => {
    const set = { kind: 'GlobalNetworkSet', metadata: { name: 'feed', uid: 'gns-bad' }, spec: { nets: ['203.0.113.0/24', '198.51.100.0/33', 'bogus'] } };
    const core = new EnrichCore({ levels: { allowed: 0, denied: 0 } });
    core.applyInventory(event('ADDED', set, s(0)));
    const [record] = core.enrich([addressOnlyFlow({ start_time: s(1), source_ip: '10.1.0.1', dest_ip: '203.0.113.9', dest_port: 443 })]);
    assert.deepEqual([record?.dest_type, record?.dest_name], ['ns', 'feed']);
    assert.equal(core.table.stats.invalidCidrs, 2);
  });

  it('applies versions one by one exactly as it rebuilds them from scratch (a flapping EndpointSlice)', () => {
    const addresses = Array.from({ length: 20 }, (_, i) => `10.2.0.${i}`);
    fc.assert(
      fc.property(fc.array(fc.subarray(addresses), { minLength: 2, maxLength: 15 }), (states) => {
        const slice = endpointSlice('api', 'shop', [], [{ name: 'http', port: 8080 }]);
        const events = states.map((endpoints, i) => event(i === 0 ? 'ADDED' : 'MODIFIED', { ...slice, endpoints: endpoints.map((address) => ({ addresses: [address] })) }, s(i * 10)));
        const inOrder = tableOf(events);
        const reversed = tableOf([...events].reverse());
        for (let second = 0; second < states.length * 10; second += 5) {
          for (const address of addresses) {
            const expected = states[Math.floor(second / 10)]!.includes(address) ? 'api' : undefined;
            assert.equal(inOrder.serviceAt(address, 8080, 'TCP', s(second), s(second))?.service.name, expected);
            assert.equal(reversed.serviceAt(address, 8080, 'TCP', s(second), s(second))?.service.name, expected);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('keeps its history when one flow is stamped far in the future', () => {
    const a = pod({ name: 'a', namespace: 'one', ip: '10.1.0.5' });
    const core = new EnrichCore({ levels: { allowed: 0, denied: 0 }, retentionMs: 60_000 });
    core.applyInventory(event('ADDED', a, s(0)));
    core.applyInventory(event('DELETED', a, s(30)));
    core.enrich([addressOnlyFlow({ start_time: s(10 * 365 * 86_400), source_ip: '10.9.9.9', dest_ip: '1.1.1.1', dest_port: 443 })]);
    const [record] = core.enrich([addressOnlyFlow({ start_time: s(10), source_ip: '10.1.0.5', dest_ip: '1.1.1.1', dest_port: 443 })]);
    assert.equal(record?.source_name, 'a');
  });

  it('lends what a Calico record lacks only from the same endpoint', () => {
    const backend = pod({ name: 'backend-6b9c8d7f5-7qp4z', namespace: 'stars', ip: '10.1.0.20', serviceAccount: 'backend', owner: { kind: 'ReplicaSet', name: 'backend-6b9c8d7f5' }, labels: { 'pod-template-hash': '6b9c8d7f5' } });
    const core = new EnrichCore({ levels: { allowed: 0, denied: 0 } });
    core.applyInventory(event('ADDED', backend, s(0)));
    const reported = (nameAggr: string) =>
      core.enrich([addressOnlyFlow({ start_time: s(10), source_ip: '10.1.0.20', dest_ip: '1.1.1.1', dest_port: 443, origin: 'calico', source_type: 'wep', source_namespace: 'stars', source_name_aggr: nameAggr })])[0]!;
    assert.deepEqual([reported('frontend-7d9f8c6b5d-*').source_workload, reported('frontend-7d9f8c6b5d-*').source_service_account], [null, null]);
    assert.deepEqual([reported('backend-6b9c8d7f5-*').source_workload, reported('backend-6b9c8d7f5-*').source_service_account], ['deployment/backend', 'backend']);
  });
});
