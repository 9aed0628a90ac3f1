import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodFacts } from '../../../../detect/quarantine/pod-facts.js';
import { originalLabelsOf, quarantinePatch, releasePatch, type PodMergePatch, type QuarantineMarks } from '../../../../detect/quarantine/pod-patches.js';
import { adminNetworkPolicy, calicoPolicy, namespacedNetworkPolicy, policyObjectFor } from '../../../../detect/quarantine/policy-objects.js';
import { QUARANTINE_LABEL, quarantineId } from '../../../../detect/quarantine/quarantine-names.js';
import { applyPolicyWrite, describeWrites, requestOf } from '../../../../detect/quarantine/quarantine-writes.js';
import { podFacts, T0 } from './support.js';

type Json = Record<string, unknown>;

/** RFC 7386 JSON merge patch, as the API server applies it. */
function merge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Json = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [key, value] of Object.entries(patch as Json)) {
    if (value === null) delete result[key];
    else result[key] = merge(result[key], value);
  }
  return result;
}

/** The pod's metadata after a patch (the resourceVersion is a precondition, not a change). */
function patched(pod: PodFacts, patch: PodMergePatch): PodFacts {
  const change = { labels: patch.metadata.labels, annotations: patch.metadata.annotations };
  const metadata = merge({ labels: pod.labels, annotations: pod.annotations }, change) as { labels?: Record<string, string>; annotations?: Record<string, string> };
  return { ...pod, labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} };
}

const marks = (backend: QuarantineMarks['backend']): QuarantineMarks => ({ id: 'q-abc', alertId: 'port_scan:1:2', backend, appliedAt: T0, expiresAt: T0 + 3_600_000 });

describe('Detect > quarantine > backends', () => {
  describe('ids', () => {
    it('are deterministic per alert and pod, and valid label values', () => {
      const id = quarantineId('port_scan:0123:1795780800000', 'uid-1');
      assert.equal(id, quarantineId('port_scan:0123:1795780800000', 'uid-1'));
      assert.notEqual(id, quarantineId('port_scan:0123:1795780800000', 'uid-2'));
      assert.notEqual(id, quarantineId('port_scan:0123:1795780860000', 'uid-1'));
      assert.match(id, /^q-[0-9a-f]{24}$/);
      assert.ok(id.length <= 63);
    });
  });

  describe('policy objects', () => {
    it('calico: one GlobalNetworkPolicy of order 0 denying both directions of labelled pods', () => {
      assert.deepEqual(calicoPolicy('flowsentry-quarantine'), {
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'flowsentry-quarantine', labels: { 'app.kubernetes.io/managed-by': 'flowsentry' } },
        spec: { order: 0, selector: 'has(quarantine.flowsentry.io/id)', types: ['Ingress', 'Egress'], ingress: [{ action: 'Deny' }], egress: [{ action: 'Deny' }] },
      });
    });

    it('adminnetworkpolicy: priority 0, labelled pods of every namespace, deny from every pod and to every address', () => {
      const object = adminNetworkPolicy('flowsentry-quarantine');
      assert.equal(object.apiVersion, 'policy.networking.k8s.io/v1alpha1');
      assert.deepEqual(object.spec, {
        priority: 0,
        subject: { pods: { namespaceSelector: {}, podSelector: { matchExpressions: [{ key: QUARANTINE_LABEL, operator: 'Exists' }] } } },
        ingress: [{ name: 'quarantine-deny-all-ingress', action: 'Deny', from: [{ namespaces: {} }] }],
        egress: [{ name: 'quarantine-deny-all-egress', action: 'Deny', to: [{ namespaces: {} }, { networks: ['0.0.0.0/0', '::/0'] }] }],
      });
      // The CRD allows one kind of peer per entry.
      for (const rule of [...(object.spec.ingress as { from: Json[] }[]).map((r) => r.from), ...(object.spec.egress as { to: Json[] }[]).map((r) => r.to)]) {
        for (const peer of rule) assert.equal(Object.keys(peer).length, 1);
      }
    });

    it("networkpolicy: in the pod's namespace, both types, no rule", () => {
      assert.deepEqual(namespacedNetworkPolicy('flowsentry-quarantine', 'shop'), {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'flowsentry-quarantine', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'flowsentry' } },
        spec: { podSelector: { matchExpressions: [{ key: QUARANTINE_LABEL, operator: 'Exists' }] }, policyTypes: ['Ingress', 'Egress'] },
      });
      assert.equal(policyObjectFor('networkpolicy', 'x', 'other').metadata.namespace, 'other');
      assert.equal(policyObjectFor('calico', 'x', 'other').metadata.namespace, undefined);
    });
  });

  describe('pod patches', () => {
    it('calico and adminnetworkpolicy: add the label and annotations, keep every label', () => {
      const patch = quarantinePatch(podFacts(), marks('calico'));
      assert.deepEqual(patch, {
        metadata: {
          resourceVersion: '100',
          labels: { [QUARANTINE_LABEL]: 'q-abc' },
          annotations: {
            'quarantine.flowsentry.io/alert-id': 'port_scan:1:2',
            'quarantine.flowsentry.io/backend': 'calico',
            'quarantine.flowsentry.io/applied-at': '2026-11-27T12:00:00.000Z',
            'quarantine.flowsentry.io/expires-at': '2026-11-27T13:00:00.000Z',
            'quarantine.flowsentry.io/released': null,
          },
        },
      });
      assert.deepEqual(patched(podFacts(), patch).labels, { app: 'web', 'pod-template-hash': '7d9f8c6b5', [QUARANTINE_LABEL]: 'q-abc' });
    });

    it('networkpolicy: take every other label away and record them', () => {
      const pod = podFacts();
      const patch = quarantinePatch(pod, marks('networkpolicy'));
      assert.deepEqual(patch.metadata.labels, { app: null, 'pod-template-hash': null, [QUARANTINE_LABEL]: 'q-abc' });
      const after = patched(pod, patch);
      assert.deepEqual(after.labels, { [QUARANTINE_LABEL]: 'q-abc' });
      assert.deepEqual(originalLabelsOf(after), { app: 'web', 'pod-template-hash': '7d9f8c6b5' });
    });

    it('change nothing when applied twice', () => {
      for (const backend of ['calico', 'adminnetworkpolicy', 'networkpolicy'] as const) {
        const pod = podFacts({ annotations: { 'team.example.com/owner': 'shop' } });
        const patch = quarantinePatch(pod, marks(backend));
        const once = patched(pod, patch);
        assert.deepEqual(patched(once, patch), once, backend);
        const { patch: release } = releasePatch(once);
        const released = patched(once, release);
        assert.deepEqual(patched(released, release), released, backend);
      }
    });

    it('release: take label and annotations away, put the labels back, remember the id', () => {
      for (const backend of ['calico', 'networkpolicy'] as const) {
        const pod = podFacts({ annotations: { 'team.example.com/owner': 'shop' } });
        const quarantined = patched(pod, quarantinePatch(pod, marks(backend)));
        const { patch, restored } = releasePatch({ ...quarantined, resourceVersion: '101' });
        assert.equal(patch.metadata.resourceVersion, '101');
        assert.equal(restored, backend === 'networkpolicy' ? true : undefined);
        const released = patched(quarantined, patch);
        assert.deepEqual(released.labels, pod.labels, backend);
        assert.deepEqual(released.annotations, { 'team.example.com/owner': 'shop', 'quarantine.flowsentry.io/released': 'q-abc' }, backend);
      }
    });

    it('release: says so when the record of the taken labels is unreadable', () => {
      const pod = podFacts({
        labels: { [QUARANTINE_LABEL]: 'q-abc' },
        annotations: { 'quarantine.flowsentry.io/backend': 'networkpolicy', 'quarantine.flowsentry.io/original-labels': '{not json' },
      });
      const { patch, restored } = releasePatch(pod);
      assert.equal(restored, false);
      assert.deepEqual(patch.metadata.labels, { [QUARANTINE_LABEL]: null });
    });
  });

  describe('writes', () => {
    it('name the exact requests: server-side apply of the policy, merge patch of the pod', () => {
      const apply = requestOf(applyPolicyWrite('calico', calicoPolicy('fq')));
      assert.deepEqual(
        { ...apply, body: undefined },
        { method: 'PATCH', path: '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/fq?fieldManager=flowsentry-quarantine&force=true', contentType: 'application/apply-patch+yaml', body: undefined },
      );
      assert.equal(
        requestOf(applyPolicyWrite('networkpolicy', namespacedNetworkPolicy('fq', 'shop'))).path,
        '/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/fq?fieldManager=flowsentry-quarantine&force=true',
      );
      assert.equal(requestOf(applyPolicyWrite('adminnetworkpolicy', adminNetworkPolicy('fq'))).path, '/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies/fq?fieldManager=flowsentry-quarantine&force=true');
      const patch = quarantinePatch(podFacts(), marks('calico'));
      const request = requestOf({ kind: 'patch-pod', namespace: 'shop', name: 'web-1', patch });
      assert.deepEqual(request, { method: 'PATCH', path: '/api/v1/namespaces/shop/pods/web-1', contentType: 'application/merge-patch+json', body: patch });
    });

    it('print as JSON that reads back to the same requests', () => {
      const writes = [applyPolicyWrite('calico', calicoPolicy('fq')), { kind: 'patch-pod' as const, namespace: 'shop', name: 'web-1', patch: quarantinePatch(podFacts(), marks('calico')) }];
      assert.deepEqual(JSON.parse(describeWrites(writes)), JSON.parse(JSON.stringify(writes.map(requestOf))));
    });
  });
});
