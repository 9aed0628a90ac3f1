import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalIp, CidrMatcher, parseCidr } from '../../../enrich/addresses.js';
import { parseInventory } from '../../../enrich/inventory-files.js';
import { inventoryEventOf } from '../../../enrich/kubernetes-objects.js';
import { podWorkload } from '../../../enrich/workload.js';
import { codecFor } from '../../../schemas/codec.js';
import { endpointSlice, pod, service, watchLine } from '../../support/kubernetes-objects.js';

const owner = (kind: string, name: string) => [{ kind, name, uid: `${kind}-uid`, controller: true }];

describe('Enrich > workload names', () => {
  const cases: [string, Parameters<typeof podWorkload>[0], string, string][] = [
    ['Deployment via pod-template-hash', { name: 'frontend-7d9f8c6b5d-x2k9q', labels: { 'pod-template-hash': '7d9f8c6b5d' }, owners: owner('ReplicaSet', 'frontend-7d9f8c6b5d') }, 'frontend-7d9f8c6b5d-*', 'deployment/frontend'],
    ['a ReplicaSet of its own', { name: 'legacy-abcde', labels: {}, owners: owner('ReplicaSet', 'legacy') }, 'legacy-*', 'replicaset/legacy'],
    ['StatefulSet', { name: 'db-0', labels: {}, owners: owner('StatefulSet', 'db') }, 'db-*', 'statefulset/db'],
    ['DaemonSet', { name: 'fluentd-x7k2p', labels: {}, owners: owner('DaemonSet', 'fluentd') }, 'fluentd-*', 'daemonset/fluentd'],
    ['Job of a CronJob', { name: 'backup-29012345-q8w7e', labels: {}, owners: owner('Job', 'backup-29012345') }, 'backup-29012345-*', 'cronjob/backup'],
    ['a Job alone', { name: 'migrate-abcde', labels: {}, owners: owner('Job', 'migrate') }, 'migrate-*', 'job/migrate'],
    ['a static pod', { name: 'kube-apiserver-ip-10-0-1-1.ec2.internal', labels: {}, owners: owner('Node', 'ip-10-0-1-1.ec2.internal') }, 'kube-apiserver-*', 'static/kube-apiserver'],
    ['a bare pod', { name: 'debug', labels: {}, owners: [] }, 'debug', 'pod/debug'],
  ];
  for (const [title, input, nameAggr, workload] of cases) {
    it(title, () => assert.deepEqual(podWorkload(input), { nameAggr, workload }));
  }
});

describe('Enrich > addresses', () => {
  it('writes IPv6 in one form and rejects what is not an address', () => {
    assert.equal(canonicalIp('2600:1F18:0000:0000:0:0:0:000A'), '2600:1f18::a');
    assert.equal(canonicalIp('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(canonicalIp('::FFFF:a00:1'), '10.0.0.1');
    assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
    assert.equal(canonicalIp('10.0.0.256'), undefined);
    assert.equal(canonicalIp('1::2::3'), undefined);
    assert.throws(() => parseCidr('10.0.0.0/33'), /not an IPv4 or IPv6 address or CIDR block/);
  });

  it('matches the most specific block', () => {
    const matcher = new CidrMatcher<string>().add('10.0.0.0/8', 'wide').add('10.1.0.0/16', 'narrow').add('2600:1f18::/32', 'v6');
    assert.equal(matcher.match('10.1.2.3'), 'narrow');
    assert.equal(matcher.match('10.2.2.3'), 'wide');
    assert.equal(matcher.match('11.0.0.1'), undefined);
    assert.equal(matcher.match('2600:1f18:1::1'), 'v6');
    assert.equal(matcher.match('2600:1f19::1'), undefined);
    const edges = new CidrMatcher<string>().add('0.0.0.0/0', 'any').add('255.255.255.255/32', 'one').add('::/0', 'any6');
    assert.deepEqual(['255.255.255.255', '255.255.255.254', '1.2.3.4', 'fe80::1', 'nonsense'].map((ip) => edges.match(ip)), ['one', 'any', 'any', 'any6', undefined]);
  });
});

describe('Enrich > Kubernetes objects as inventory', () => {
  it('reads a pod: addresses, owners, node, service account, phase, hostNetwork', () => {
    const event = inventoryEventOf('ADDED', pod({ name: 'web-0', namespace: 'shop', ip: '10.1.0.4', owner: { kind: 'StatefulSet', name: 'web' }, serviceAccount: 'web', node: 'node-c', phase: 'Pending' }), 42)!;
    assert.deepEqual([event.kind, event.namespace, event.name, event.ips, event.node, event.service_account, event.phase, event.host_network, event.observed_time], ['Pod', 'shop', 'web-0', ['10.1.0.4'], 'node-c', 'web', 'Pending', false, 42]);
    assert.deepEqual(event.owners?.map((o) => [o.kind, o.name, o.controller]), [['StatefulSet', 'web', true]]);
    const codec = codecFor('InventoryEvent');
    assert.deepEqual(codec.decode(codec.encode(event)), event, 'a valid InventoryEvent');
  });

  it('reads services and endpoint slices', () => {
    const svc = inventoryEventOf('ADDED', service('api', 'shop', '172.20.0.5', [{ name: 'http', port: 80, targetPort: 8080 }]), 0)!;
    assert.deepEqual([svc.ips, svc.ports, svc.selector], [['172.20.0.5'], [{ name: 'http', port: 80, protocol: 'TCP', target_port: '8080' }], { app: 'api' }]);
    const slice = inventoryEventOf('ADDED', endpointSlice('api', 'shop', ['10.1.0.4', '10.1.0.5'], [{ name: 'http', port: 8080 }]), 0)!;
    assert.deepEqual([slice.ips, slice.labels?.['kubernetes.io/service-name']], [['10.1.0.4', '10.1.0.5'], 'api']);
  });

  it('skips kinds it does not use and names what is missing', () => {
    assert.equal(inventoryEventOf('ADDED', { kind: 'ConfigMap', metadata: { name: 'x', uid: 'u' } }, 0), undefined);
    assert.throws(() => inventoryEventOf('ADDED', { kind: 'Pod', metadata: { name: 'x' } }, 0), /Pod x: metadata.uid missing/);
    assert.throws(() => inventoryEventOf('BOOKMARK', { kind: 'Pod' }, 0), /type: expected ADDED, MODIFIED or DELETED/);
  });
});

describe('Enrich > inventory files', () => {
  it('reads recorded watch lines, with a problem per bad line naming the file and line, and goes on', () => {
    const web = pod({ name: 'web', namespace: 'shop', ip: '10.1.0.7' });
    const text = [
      watchLine(Date.parse('2026-11-27T12:00:00Z'), 'ADDED', web),
      '{not json',
      JSON.stringify({ ts: 'yesterday', type: 'ADDED', object: web }),
      JSON.stringify({ ts: '2026-11-27T12:00:05Z', type: 'ADDED', object: { kind: 'Pod', metadata: { name: 'nouid' } } }),
      watchLine(Date.parse('2026-11-27T12:01:00Z'), 'DELETED', web),
      JSON.stringify({ ts: '2026-11-27T12:01:00Z', type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: 'c', uid: 'c' } } }),
      '',
    ].join('\n');
    const file = parseInventory('watch.jsonl', text);
    assert.deepEqual(file.events.map((e) => [e.type, e.name, e.observed_time]), [
      ['ADDED', 'web', Date.parse('2026-11-27T12:00:00Z')],
      ['DELETED', 'web', Date.parse('2026-11-27T12:01:00Z')],
    ]);
    assert.deepEqual(file.problems.map((p) => [p.reason, p.location.line]), [['ENRICH_BAD_LINE', 2], ['ENRICH_BAD_TIME', 3], ['ENRICH_BAD_OBJECT', 4]]);
    assert.match(file.problems[2]!.message, /^watch\.jsonl:4: Pod nouid: metadata\.uid missing$/);
    assert.equal(file.problems[0]!.original.toString(), '{not json');
    assert.equal(file.skipped, 1);
  });

  it('skips watch bookmarks, and reads one pretty-printed object as a list of one', () => {
    const bookmark = JSON.stringify({ ts: '2026-11-27T12:00:00Z', type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: '12345' } } });
    const watched = parseInventory('watch.jsonl', `${bookmark}\n`);
    assert.deepEqual([watched.events.length, watched.problems.length, watched.skipped], [0, 0, 1]);
    const single = parseInventory('pod.json', JSON.stringify(pod({ name: 'solo', namespace: 'x', ip: '10.1.0.9' }), null, 2));
    assert.deepEqual([single.events.map((e) => e.name), single.problems.length], [['solo'], 0]);
  });

  it('reads a kubectl list as valid from the beginning of time', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [pod({ name: 'a', namespace: 'x', ip: '10.1.0.1' }), pod({ name: 'b', namespace: 'x', ip: '10.1.0.2' })] };
    const file = parseInventory('pods.json', JSON.stringify(list, null, 2));
    assert.deepEqual(file.events.map((e) => [e.type, e.name, e.observed_time]), [['ADDED', 'a', 0], ['ADDED', 'b', 0]]);
    const podList = { kind: 'PodList', items: [{ metadata: { name: 'c', namespace: 'x', uid: 'c-uid' }, spec: {}, status: { podIP: '10.1.0.3' } }] };
    assert.equal(parseInventory('pods.json', JSON.stringify(podList)).events[0]?.kind, 'Pod', 'items without kind take it from the list');
  });
});
