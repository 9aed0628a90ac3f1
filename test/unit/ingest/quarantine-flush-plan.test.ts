import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FlushTarget, podAddresses, type PodSnapshot, QUARANTINE_LABEL, QuarantineFlushPlan } from '../../../ingest/quarantine-flush-plan.js';

const NODE = 'ip-10-0-1-5';

interface PodShape {
  uid?: string;
  name?: string;
  quarantine?: string;
  ips?: string[];
  node?: string;
  phase?: string;
  hostNetwork?: boolean;
}

function pod({ uid = 'u1', name = 'web-1', quarantine = 'q1', ips = ['10.0.3.7'], node = NODE, phase = 'Running', hostNetwork }: PodShape = {}): PodSnapshot {
  return {
    metadata: { uid, namespace: 'shop', name, labels: quarantine === '' ? { app: 'web' } : { app: 'web', [QUARANTINE_LABEL]: quarantine } },
    spec: { nodeName: node, ...(hostNetwork ? { hostNetwork } : {}) },
    status: { phase, ...(ips[0] ? { podIP: ips[0] } : {}), podIPs: ips.map((ip) => ({ ip })) },
  };
}

const addressesOf = (targets: readonly FlushTarget[]) => targets.map((target) => `${target.uid} ${target.address} ${target.quarantineId}`);

/** Flushes everything pending and returns what was flushed. */
function flushAll(plan: QuarantineFlushPlan): string[] {
  const targets = plan.pending();
  for (const target of targets) plan.settle(target);
  return addressesOf(targets);
}

describe('Ingest > quarantine > flush plan', () => {
  it('flushes every address of a quarantined pod once, however often the pod is seen again', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.apply('ADDED', pod({ ips: ['10.0.3.7', 'fd00:10::7'] }));
    assert.deepEqual(plan.pending(), [
      { uid: 'u1', namespace: 'shop', name: 'web-1', quarantineId: 'q1', address: '10.0.3.7' },
      { uid: 'u1', namespace: 'shop', name: 'web-1', quarantineId: 'q1', address: 'fd00:10::7' },
    ]);
    assert.deepEqual(flushAll(plan), ['u1 10.0.3.7 q1', 'u1 fd00:10::7 q1']);
    plan.apply('MODIFIED', pod({ ips: ['10.0.3.7', 'fd00:10::7'] }));
    plan.replace([pod({ ips: ['10.0.3.7', 'fd00:10::7'] })]);
    assert.deepEqual(plan.pending(), []);
    assert.equal(plan.size, 1);
  });

  it('keeps an address pending until it is settled, and not after its pod has gone', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.apply('ADDED', pod());
    const [target] = plan.pending();
    plan.apply('MODIFIED', pod());
    assert.deepEqual(plan.pending(), [target], 'a failed or unfinished flush stays pending');
    assert.equal(plan.needs(target!), true);
    plan.apply('DELETED', pod());
    assert.equal(plan.needs(target!), false, 'a flush retried after the pod was deleted is dropped');
    plan.settle(target!);
    assert.deepEqual(plan.pending(), []);
    assert.equal(plan.size, 0);
  });

  it('flushes an address that appears after the label, and a second one added later', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.apply('ADDED', pod({ ips: [], phase: 'Pending' }));
    assert.deepEqual(plan.pending(), [], 'no address yet');
    plan.apply('MODIFIED', pod({ ips: ['10.0.3.7'] }));
    assert.deepEqual(flushAll(plan), ['u1 10.0.3.7 q1']);
    plan.apply('MODIFIED', pod({ ips: ['10.0.3.7', 'fd00:10::7'] }));
    assert.deepEqual(flushAll(plan), ['u1 fd00:10::7 q1']);
  });

  it('flushes again under a new quarantine id, and after the pod left quarantine and came back', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.apply('ADDED', pod());
    assert.deepEqual(flushAll(plan), ['u1 10.0.3.7 q1']);
    plan.apply('MODIFIED', pod({ quarantine: 'q2' }));
    assert.deepEqual(flushAll(plan), ['u1 10.0.3.7 q2']);
    // the label removed: a labelled watch reports DELETED, a list of all pods would show it without the label
    plan.apply('MODIFIED', pod({ quarantine: '' }));
    assert.equal(plan.size, 0);
    plan.apply('ADDED', pod({ quarantine: 'q2' }));
    assert.deepEqual(flushAll(plan), ['u1 10.0.3.7 q2']);
  });

  it('tells pods apart by uid: a new pod with a reused address is flushed', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.apply('ADDED', pod({ uid: 'u1' }));
    assert.deepEqual(flushAll(plan), ['u1 10.0.3.7 q1']);
    plan.apply('DELETED', pod({ uid: 'u1' }));
    plan.apply('ADDED', pod({ uid: 'u2', name: 'web-2' }));
    assert.deepEqual(flushAll(plan), ['u2 10.0.3.7 q1']);
  });

  it('never flushes host-network, finished or other nodes pods, and reports each reason once per pod', () => {
    const plan = new QuarantineFlushPlan(NODE);
    assert.equal(plan.apply('ADDED', pod({ uid: 'h', hostNetwork: true, ips: ['10.0.1.5'] })), 'host-network');
    assert.equal(plan.apply('MODIFIED', pod({ uid: 'h', hostNetwork: true, ips: ['10.0.1.5'] })), undefined);
    assert.equal(plan.apply('ADDED', pod({ uid: 'f', phase: 'Succeeded' })), 'finished');
    assert.equal(plan.apply('ADDED', pod({ uid: 'o', node: 'ip-10-0-2-9' })), 'other-node');
    assert.equal(plan.apply('ADDED', { metadata: { labels: { [QUARANTINE_LABEL]: 'q1' } } }), 'no-uid');
    assert.deepEqual(plan.pending(), []);
    assert.equal(plan.size, 0);
  });

  it('stops flushing a pod that finished before its flush ran', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.apply('ADDED', pod());
    const [target] = plan.pending();
    assert.equal(plan.apply('MODIFIED', pod({ phase: 'Failed' })), 'finished');
    assert.equal(plan.needs(target!), false);
    assert.deepEqual(plan.pending(), []);
  });

  it('replaces its view with a relist: missing pods are forgotten, flushed ones stay flushed, new ones are pending', () => {
    const plan = new QuarantineFlushPlan(NODE);
    plan.replace([pod({ uid: 'a', ips: ['10.0.3.1'] }), pod({ uid: 'b', ips: ['10.0.3.2'] })]);
    assert.deepEqual(flushAll(plan), ['a 10.0.3.1 q1', 'b 10.0.3.2 q1']);
    const skipped = plan.replace([pod({ uid: 'b', ips: ['10.0.3.2'] }), pod({ uid: 'c', ips: ['10.0.3.3'] }), pod({ uid: 'h', hostNetwork: true })]);
    assert.deepEqual(
      skipped.map(({ pod: { metadata }, reason }) => [metadata?.uid, reason]),
      [['h', 'host-network']],
    );
    assert.deepEqual(flushAll(plan), ['c 10.0.3.3 q1']);
    assert.equal(plan.size, 2);
    plan.replace([pod({ uid: 'a', ips: ['10.0.3.1'] })]);
    assert.deepEqual(flushAll(plan), ['a 10.0.3.1 q1'], 'a pod back after a gap in the list is flushed again');
  });

  it('reads podIPs, and podIP when podIPs lacks it', () => {
    assert.deepEqual(podAddresses({ status: { podIP: '10.0.3.7', podIPs: [{ ip: '10.0.3.7' }, { ip: 'fd00:10::7' }] } }), ['10.0.3.7', 'fd00:10::7']);
    assert.deepEqual(podAddresses({ status: { podIP: '10.0.3.7' } }), ['10.0.3.7']);
    assert.deepEqual(podAddresses({ status: { podIPs: [{ ip: '' }, {}] } }), []);
    assert.deepEqual(podAddresses({}), []);
  });
});
