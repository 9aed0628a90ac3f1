import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { breakerState, podRefusal, quarantinedOfOwner, replicaOwnerOf, replicaRefusal, safetyOptionsOf } from '../../../../detect/quarantine/safety.js';
import { podFacts, T0 } from './support.js';

const options = safetyOptionsOf({ protectedNamespaces: ['monitoring'], minHealthyReplicas: 2, maxPerWindow: 3, windowMs: 600_000, coolDownMs: 900_000 });
const MIN = 60_000;

describe('Detect > quarantine > safety', () => {
  describe('options', () => {
    it('always protect kube-system, and fill in defaults', () => {
      assert.deepEqual(safetyOptionsOf().protectedNamespaces, ['kube-system']);
      assert.deepEqual(options.protectedNamespaces, ['kube-system', 'monitoring']);
      assert.deepEqual(safetyOptionsOf({ protectedNamespaces: ['kube-system'] }).protectedNamespaces, ['kube-system']);
      assert.equal(safetyOptionsOf().maxPerWindow, 5);
    });

    it('refuse values that make no sense', () => {
      assert.throws(() => safetyOptionsOf({ maxPerWindow: 0, windowMs: -1, minHealthyReplicas: 1.5 }), /minHealthyReplicas.*maxPerWindow.*windowMs/);
    });
  });

  describe('pod rules', () => {
    it('allow an ordinary workload pod', () => {
      assert.equal(podRefusal(podFacts(), options), undefined);
    });

    it("never touch the responder's own namespace", () => {
      const own = safetyOptionsOf({ selfNamespace: 'flowsentry' });
      assert.equal(podRefusal(podFacts({ namespace: 'flowsentry' }), own), "protected namespace flowsentry (the responder's own)");
      assert.equal(podRefusal(podFacts(), own), undefined);
      assert.throws(() => safetyOptionsOf({ selfNamespace: ' ' }), /selfNamespace/);
    });

    it('never touch protected namespaces, kube-system always', () => {
      assert.equal(podRefusal(podFacts({ namespace: 'kube-system' }), safetyOptionsOf()), 'protected namespace kube-system');
      assert.equal(podRefusal(podFacts({ namespace: 'monitoring' }), options), 'protected namespace monitoring');
    });

    it('never touch static (mirror) pods, by annotation or by a Node owner', () => {
      assert.match(podRefusal(podFacts({ annotations: { 'kubernetes.io/config.mirror': 'abc' }, owner: undefined }), options)!, /^static \(mirror\) pod of node node-a/);
      assert.match(podRefusal(podFacts({ owner: { kind: 'Node', name: 'node-b' } }), options)!, /^static \(mirror\) pod of node node-b/);
    });

    it('never touch control-plane pods, by tier or by component', () => {
      assert.equal(podRefusal(podFacts({ labels: { tier: 'control-plane' } }), options), 'control-plane pod (tier=control-plane)');
      for (const component of ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler']) {
        assert.equal(podRefusal(podFacts({ labels: { component } }), options), `control-plane pod (component=${component})`);
      }
      assert.equal(podRefusal(podFacts({ labels: { component: 'frontend' } }), options), undefined);
    });

    it('never touch DaemonSet pods', () => {
      assert.equal(podRefusal(podFacts({ owner: { kind: 'DaemonSet', name: 'node-agent' } }), options), 'owned by DaemonSet node-agent');
    });

    it('refuse hostNetwork pods, saying why', () => {
      assert.equal(podRefusal(podFacts({ hostNetwork: true }), options), "hostNetwork pod: network policy cannot isolate it (it uses its node's network)");
    });
  });

  describe('replicas', () => {
    it('check ReplicaSet and StatefulSet owners, not others', () => {
      assert.deepEqual(replicaOwnerOf(podFacts()), { kind: 'ReplicaSet', name: 'web-7d9f8c6b5' });
      assert.deepEqual(replicaOwnerOf(podFacts({ owner: { kind: 'StatefulSet', name: 'db' } })), { kind: 'StatefulSet', name: 'db' });
      assert.equal(replicaOwnerOf(podFacts({ owner: { kind: 'Job', name: 'backup' } })), undefined);
      assert.equal(replicaOwnerOf(podFacts({ owner: undefined })), undefined);
    });

    it('count the quarantined pod as lost against the minimum', () => {
      assert.equal(replicaRefusal({ kind: 'deployment', name: 'web', readyReplicas: 3 }, options), undefined);
      assert.equal(replicaRefusal({ kind: 'deployment', name: 'web', readyReplicas: 2 }, options), 'would leave deployment web with 1 ready replica, minimum 2');
      assert.equal(replicaRefusal({ kind: 'statefulset', name: 'db', readyReplicas: 0 }, options), 'would leave statefulset db with 0 ready replicas, minimum 2');
    });

    it('count the pods of the owner already quarantined as lost too', () => {
      assert.equal(replicaRefusal({ kind: 'deployment', name: 'web', readyReplicas: 4, quarantined: 1 }, options), undefined);
      assert.equal(replicaRefusal({ kind: 'deployment', name: 'web', readyReplicas: 3, quarantined: 1 }, options), 'would leave deployment web with 1 ready replica (1 already quarantined), minimum 2');
    });

    it("find the owner's quarantined pods: same ReplicaSet, the Deployment's other ReplicaSets, same StatefulSet", () => {
      const pod = podFacts();
      const sameSet = podFacts({ name: 'web-7d9f8c6b5-a', uid: 'u-a' });
      const olderSet = podFacts({ name: 'web-5c6d7e8f9-b', uid: 'u-b', labels: { app: 'web', 'pod-template-hash': '5c6d7e8f9' }, owner: { kind: 'ReplicaSet', name: 'web-5c6d7e8f9' } });
      const otherDeployment = podFacts({ name: 'webhook-5c6d7e8f9-c', uid: 'u-c', labels: { 'pod-template-hash': '5c6d7e8f9' }, owner: { kind: 'ReplicaSet', name: 'webhook-5c6d7e8f9' } });
      const otherNamespace = podFacts({ namespace: 'staging', name: 'web-7d9f8c6b5-d', uid: 'u-d' });
      const gone = podFacts({ name: 'web-7d9f8c6b5-e', uid: 'u-e', phase: 'Failed' });
      const all = [pod, sameSet, olderSet, otherDeployment, otherNamespace, gone];
      assert.deepEqual(quarantinedOfOwner(pod, { kind: 'deployment', name: 'web' }, all).map((p) => p.name), ['web-7d9f8c6b5-a', 'web-5c6d7e8f9-b']);
      assert.deepEqual(quarantinedOfOwner(pod, { kind: 'replicaset', name: 'web-7d9f8c6b5' }, all).map((p) => p.name), ['web-7d9f8c6b5-a']);
      const db0 = podFacts({ name: 'db-0', uid: 'u-db0', owner: { kind: 'StatefulSet', name: 'db' } });
      const db1 = podFacts({ name: 'db-1', uid: 'u-db1', owner: { kind: 'StatefulSet', name: 'db' } });
      assert.deepEqual(quarantinedOfOwner(db0, { kind: 'statefulset', name: 'db' }, [db0, db1, sameSet]).map((p) => p.name), ['db-1']);
    });

    it('turn off at minimum 0', () => {
      assert.equal(replicaRefusal({ kind: 'deployment', name: 'web', readyReplicas: 1 }, safetyOptionsOf({ minHealthyReplicas: 0 })), undefined);
    });
  });

  describe('circuit breaker', () => {
    it('stays closed below the maximum per window', () => {
      assert.deepEqual(breakerState([T0 - 5 * MIN, T0 - MIN], T0, options), { open: false, count: 2 });
      // Old quarantines that never filled a window do not count.
      assert.deepEqual(breakerState([T0 - 60 * MIN, T0 - 40 * MIN, T0 - MIN], T0, options), { open: false, count: 1 });
    });

    it('opens when the window holds the maximum, saying how many in how long', () => {
      const state = breakerState([T0 - 9 * MIN, T0 - 5 * MIN, T0 - MIN], T0, options);
      assert.equal(state.open, true);
      assert.equal(state.count, 3);
      assert.equal(state.reason, 'circuit breaker open: 3 quarantines in 10 min (closes at 2026-11-27T12:14:00.000Z)');
    });

    it('stays open for the cool-down after the window drained', () => {
      const times = [T0 - 9 * MIN, T0 - 5 * MIN, T0 - MIN];
      // 12 minutes later the window holds one quarantine, but the cool-down (15 min from the third) runs.
      const cooling = breakerState(times, T0 + 12 * MIN, options);
      assert.equal(cooling.open, true);
      assert.equal(cooling.count, 0);
      assert.equal(cooling.reason, 'circuit breaker open: 3 quarantines in 10 min, cooling down until 2026-11-27T12:14:00.000Z');
      assert.deepEqual(breakerState(times, T0 + 14 * MIN, options), { open: false, count: 0 });
    });

    it('ignores times in the future (a skewed clock) and counts from the API every time', () => {
      assert.deepEqual(breakerState([T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN], T0, options), { open: false, count: 0 });
    });
  });
});
