import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EnrichCore } from '../../../enrich/enrich-core.js';
import { inventoryEventOf } from '../../../enrich/kubernetes-objects.js';
import { parseCalicoText } from '../../../ingest/calico-text.js';
import { codecFor } from '../../../schemas/codec.js';
import type { EnrichedFlow, RawFlow } from '../../../schemas/types.js';
import { addressOnlyFlow } from '../../support/flows.js';
import { endpointSlice, node, pod, service } from '../../support/kubernetes-objects.js';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;
const sampleFile = fileURLToPath(new URL('../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url));

const flow = (source: string, dest: string, destPort: number, at: number, changes: Partial<RawFlow> = {}): RawFlow =>
  addressOnlyFlow({ start_time: at, end_time: at + 1000, source_ip: source, dest_ip: dest, dest_port: destPort, ...changes });

function coreWith(objects: [string, Record<string, unknown>, number][], options: ConstructorParameters<typeof EnrichCore>[0] = {}): EnrichCore {
  const core = new EnrichCore({ levels: { allowed: 0, denied: 0 }, ...options });
  for (const [type, object, time] of objects) core.applyInventory(inventoryEventOf(type, object, time)!);
  return core;
}

const enriched = codecFor('EnrichedFlow');
const one = (core: EnrichCore, raw: RawFlow, waited = true): EnrichedFlow => {
  const [record, ...rest] = core.enrich([raw], waited);
  assert.equal(rest.length, 0);
  assert.ok(record);
  // Every record the core builds is a valid EnrichedFlow.
  enriched.decode(enriched.encode(record));
  return record;
};

describe('Enrich > core', () => {
  const frontend = pod({ name: 'frontend-7d9f8c6b5d-abcde', namespace: 'stars', ip: '10.1.0.10', labels: { role: 'frontend', 'pod-template-hash': '7d9f8c6b5d' }, owner: { kind: 'ReplicaSet', name: 'frontend-7d9f8c6b5d' }, serviceAccount: 'frontend', node: 'node-a' });
  const backend = pod({ name: 'backend-6b9c8d7f5-7qp4z', namespace: 'stars', ip: '10.1.0.20', labels: { role: 'backend', 'pod-template-hash': '6b9c8d7f5' }, owner: { kind: 'ReplicaSet', name: 'backend-6b9c8d7f5' }, node: 'node-b' });

  it('joins both ends with who they were at the flow time, and the Service addressed', () => {
    const core = coreWith([
      ['ADDED', frontend, s(0)],
      ['ADDED', backend, s(0)],
      ['ADDED', service('backend', 'stars', '172.20.0.10', [{ name: 'redis', port: 6379, targetPort: 6379 }]), s(0)],
      ['ADDED', endpointSlice('backend', 'stars', ['10.1.0.20'], [{ name: 'redis', port: 6379 }]), s(0)],
    ]);
    const record = one(core, flow('10.1.0.10', '10.1.0.20', 6379, s(10)));
    assert.equal(record.source_type, 'wep');
    assert.equal(record.source_name, 'frontend-7d9f8c6b5d-abcde');
    assert.equal(record.source_name_aggr, 'frontend-7d9f8c6b5d-*');
    assert.equal(record.source_workload, 'deployment/frontend');
    assert.equal(record.source_service_account, 'frontend');
    assert.equal(record.source_node, 'node-a');
    assert.equal(record.source_resolution, 'inventory');
    assert.equal(record.dest_workload, 'deployment/backend');
    assert.equal(record.dest_node, 'node-b');
    assert.deepEqual([record.dest_service_namespace, record.dest_service_name, record.dest_service_port, record.dest_service_port_num], ['stars', 'backend', 'redis', 6379]);
    const viaClusterIp = one(core, flow('10.1.0.10', '172.20.0.10', 6379, s(10)));
    assert.equal(viaClusterIp.dest_service_name, 'backend');
  });

  it('keeps the stable workload through a Deployment rollout (new ReplicaSet hash, new IPs)', () => {
    const next = pod({ name: 'frontend-5c4b3a2918-zzzzz', namespace: 'stars', ip: '10.1.0.11', labels: { role: 'frontend', 'pod-template-hash': '5c4b3a2918' }, owner: { kind: 'ReplicaSet', name: 'frontend-5c4b3a2918' } });
    const core = coreWith([['ADDED', frontend, s(0)], ['DELETED', frontend, s(100)], ['ADDED', next, s(90)]]);
    const before = one(core, flow('10.1.0.10', '8.8.8.8', 53, s(50)));
    const after = one(core, flow('10.1.0.11', '8.8.8.8', 53, s(150)));
    assert.notEqual(before.source_name_aggr, after.source_name_aggr);
    assert.equal(before.source_workload, 'deployment/frontend');
    assert.equal(after.source_workload, 'deployment/frontend');
  });

  it('types other addresses as hep, a named network, pvt or pub', () => {
    const core = coreWith([['ADDED', node('node-b', '10.0.1.23'), s(0)]], { networks: { aws: ['52.94.0.0/22', '3.5.140.0/22'] }, clusterCidrs: ['10.1.0.0/16', '10.0.0.0/16'] });
    const toNode = one(core, flow('10.0.1.23', '52.94.1.7', 443, s(10)));
    assert.deepEqual([toNode.source_type, toNode.source_name_aggr, toNode.source_node], ['hep', 'node-b', 'node-b']);
    assert.deepEqual([toNode.dest_type, toNode.dest_name_aggr, toNode.dest_resolution], ['net', 'aws', 'network']);
    const outside = one(core, flow('192.168.7.7', '1.1.1.1', 443, s(10)));
    assert.deepEqual([outside.source_type, outside.source_name_aggr, outside.source_resolution], ['net', 'pvt', 'network']);
    assert.deepEqual([outside.dest_type, outside.dest_name_aggr], ['net', 'pub']);
    const calicoSet = coreWith([['ADDED', { kind: 'GlobalNetworkSet', metadata: { name: 'threat-intel', uid: 'gns-1', labels: { feed: 'x' } }, spec: { nets: ['203.0.113.0/24'] } }, s(0)]]);
    const toSet = one(calicoSet, flow('10.1.0.10', '203.0.113.9', 443, s(10)));
    assert.deepEqual([toSet.dest_type, toSet.dest_name, toSet.dest_name_aggr, toSet.dest_labels], ['ns', 'threat-intel', 'threat-intel', { feed: 'x' }]);
  });

  it('waits for an address in the cluster ranges it does not know, and marks it unknown after the grace', () => {
    const core = coreWith([['ADDED', frontend, s(0)]], { graceMs: 2_000 });
    const early = flow('10.1.0.10', '10.1.0.99', 8080, s(10));
    assert.equal(one(core, early).dest_resolution, 'unknown', 'an address in the cluster ranges nobody holds');
    assert.equal(one(core, flow('10.1.0.10', '1.1.1.1', 443, s(10))).dest_resolution, 'network', 'public addresses are not expected in the inventory');
    // The pod's ADDED was observed 1.5 s after the flow ended: within the grace.
    core.applyInventory(inventoryEventOf('ADDED', pod({ name: 'late', namespace: 'stars', ip: '10.1.0.99' }), s(12.5))!);
    assert.equal(one(core, early).dest_name, 'late');
    assert.equal(one(core, early, false).dest_resolution, 'unknown', 'without the grace, it is unknown');
    const never = one(core, flow('10.1.0.10', '10.1.0.98', 8080, s(10)));
    assert.deepEqual([never.dest_type, never.dest_name_aggr, never.dest_resolution, never.dest_ip], ['net', 'pvt', 'unknown', '10.1.0.98']);
    assert.equal(core.stats.ends.unknown, 3);
  });

  it("keeps the identity Calico records carry, the seed sample's aggregated names as given", () => {
    const lines = readFileSync(sampleFile, 'utf8').split('\n').filter((line) => line !== '');
    const raws = lines.map((line) => parseCalicoText(line, { host: 'ip-10-0-1-23.ec2.internal' }));
    const out = new EnrichCore({ levels: { allowed: 0, denied: 0 } }).enrich(raws);
    assert.equal(out.length, raws.length);
    out.forEach((record, index) => {
      const raw = raws[index]!;
      assert.equal(record.source_name_aggr, raw.source_name_aggr);
      assert.equal(record.dest_name_aggr, raw.dest_name_aggr);
      assert.equal(record.source_type, raw.source_type);
      assert.equal(record.dest_namespace, raw.dest_namespace ?? null);
      assert.equal(record.source_resolution, 'reported');
      assert.equal(record.bytes_out, raw.bytes_out);
    });
  });

  it('fills what a Calico record lacks (node, service account, workload) when the table knows its address', () => {
    const core = coreWith([['ADDED', frontend, s(0)]]);
    const reported = flow('10.1.0.10', '1.1.1.1', 443, s(10), { origin: 'calico', source_type: 'wep', source_namespace: 'stars', source_name: null, source_name_aggr: 'frontend-7d9f8c6b5d-*', source_labels: { role: 'frontend' } });
    const record = one(core, reported);
    assert.deepEqual([record.source_name, record.source_name_aggr, record.source_labels], [null, 'frontend-7d9f8c6b5d-*', { role: 'frontend' }]);
    assert.deepEqual([record.source_node, record.source_service_account, record.source_workload], ['node-a', 'frontend', 'deployment/frontend']);
  });

  it('aggregates by the level of each action: allowed by name (2), denied by source port (1)', () => {
    const second = pod({ name: 'frontend-7d9f8c6b5d-fghij', namespace: 'stars', ip: '10.1.0.12', labels: { role: 'frontend', 'pod-template-hash': '7d9f8c6b5d', extra: 'x' }, owner: { kind: 'ReplicaSet', name: 'frontend-7d9f8c6b5d' }, serviceAccount: 'frontend', node: 'node-b' });
    const core = coreWith([['ADDED', frontend, s(0)], ['ADDED', second, s(0)], ['ADDED', backend, s(0)]], { levels: { allowed: 2, denied: 1 } });
    const out = core.enrich([
      flow('10.1.0.10', '10.1.0.20', 6379, s(10), { source_port: 40001 }),
      flow('10.1.0.12', '10.1.0.20', 6379, s(10), { source_port: 40002 }),
      flow('10.1.0.10', '10.1.0.20', 22, s(10), { action: 'deny', source_port: 40003 }),
      flow('10.1.0.10', '10.1.0.20', 22, s(10), { action: 'deny', source_port: 40004 }),
      flow('10.1.0.10', '1.2.3.4', 443, s(10), { source_port: 40005 }),
    ]);
    assert.equal(out.length, 3);
    const [allowed, denied, toPublic] = out as [EnrichedFlow, EnrichedFlow, EnrichedFlow];
    assert.deepEqual([allowed.source_ip, allowed.source_name, allowed.source_port, allowed.source_name_aggr], [null, null, null, 'frontend-7d9f8c6b5d-*']);
    assert.deepEqual([allowed.num_flows, allowed.bytes_out], [2, 400]);
    assert.deepEqual([allowed.source_node, allowed.source_workload, allowed.dest_node], [null, 'deployment/frontend', 'node-b'], 'pods on two nodes aggregate; the node they do not share is dropped');
    assert.deepEqual(allowed.source_labels, { role: 'frontend', 'pod-template-hash': '7d9f8c6b5d' }, 'labels common to the aggregated pods');
    assert.deepEqual([denied.source_ip, denied.source_port, denied.dest_port, denied.num_flows], ['10.1.0.10', null, 22, 2]);
    assert.equal(toPublic.dest_ip, '1.2.3.4', 'public addresses survive level 2');
  });
});
