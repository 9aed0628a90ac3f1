import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { choosePodForAddress, namedPodProblem, podMatchesClaims, subjectOf } from '../../../../detect/quarantine/subject.js';
import { alertOf, podFacts, T0 } from './support.js';

describe('Detect > quarantine > subject', () => {
  describe('which end, found how', () => {
    it('is the source pod by namespace and name when the alert names one', () => {
      assert.deepEqual(subjectOf(alertOf()), { by: 'name', namespace: 'shop', name: 'web-7d9f8c6b5-f4x2k', at: T0 });
    });

    it('is the destination when an ioc match on the source says so', () => {
      const alert = alertOf({ detector: 'ioc', source_type: 'net', source_name: null, source_namespace: null, source_ip: '203.0.113.66', evidence: { subject_end: 'dest' } });
      assert.deepEqual(subjectOf(alert), { by: 'name', namespace: 'data', name: 'db-0', at: T0 });
    });

    it('is found by address when the name is an aggregate or missing', () => {
      assert.deepEqual(subjectOf(alertOf({ source_name: 'web-7d9f8c6b5-*' })), {
        by: 'ip',
        ip: '10.0.3.7',
        namespace: 'shop',
        nameAggr: 'web-7d9f8c6b5-*',
        workload: 'deployment/web',
        at: T0,
      });
      assert.deepEqual(subjectOf(alertOf({ source_name: '-', source_namespace: null, source_type: null, source_name_aggr: '-', source_workload: null })), { by: 'ip', ip: '10.0.3.7', at: T0 });
    });

    it('is no pod for host endpoints, network sets and outside networks, nor without name and address', () => {
      assert.deepEqual(subjectOf(alertOf({ source_type: 'hep', source_name: null, source_ip: '192.168.1.10' })), {
        by: 'none',
        reason: 'subject 192.168.1.10 is not a pod but a host endpoint',
        label: '192.168.1.10',
        namespace: 'shop',
      });
      assert.equal(subjectOf(alertOf({ source_type: 'net', source_namespace: null, source_name: null, source_ip: '203.0.113.9' })).by, 'none');
      const nothing = subjectOf(alertOf({ source_name: null, source_ip: null, source_name_aggr: 'web-*' }));
      assert.equal(nothing.by, 'none');
      assert.equal(nothing.by === 'none' && nothing.reason, 'subject web-* names no pod and no address');
    });
  });

  describe('a pod found by name', () => {
    it('is the subject when it existed at the alert time and still runs', () => {
      assert.equal(namedPodProblem(podFacts(), T0), undefined);
    });

    it('is not, when it was created after the evidence (same name, new pod), has terminated, or is being deleted', () => {
      assert.match(namedPodProblem(podFacts({ createdAt: T0 + 1 }), T0)!, /created after the alert's evidence/);
      assert.equal(namedPodProblem(podFacts({ phase: 'Failed' }), T0), 'pod shop/web-7d9f8c6b5-f4x2k has terminated (Failed)');
      assert.equal(namedPodProblem(podFacts({ deleting: true }), T0), 'pod shop/web-7d9f8c6b5-f4x2k is being deleted');
    });
  });

  describe('a pod found by address, under IP reuse', () => {
    const old = podFacts({ name: 'old', uid: 'u-old', createdAt: T0 - 7_200_000, phase: 'Succeeded' });
    const current = podFacts({ name: 'current', uid: 'u-current', createdAt: T0 - 600_000 });
    const later = podFacts({ name: 'later', uid: 'u-later', createdAt: T0 + 60_000 });

    it('takes the pod that held the address at the alert time, not a terminated one that had it before', () => {
      const chosen = choosePodForAddress([old, current], '10.0.3.7', T0);
      assert.ok('pod' in chosen);
      assert.equal(chosen.pod.name, 'current');
    });

    it('never blames a pod that got the address after the evidence', () => {
      assert.deepEqual(choosePodForAddress([old, later], '10.0.3.7', T0), {
        reason: 'no pod held 10.0.3.7 at 2026-11-27T12:00:00.000Z (now held by shop/later, created later)',
      });
      // Two live pods listed with one address at that time: no guess.
      const chosen = choosePodForAddress([current, later], '10.0.3.7', T0 + 120_000);
      assert.ok('reason' in chosen && /ambiguous/.test(chosen.reason));
      assert.equal((choosePodForAddress([current, later], '10.0.3.7', T0) as { pod: { name: string } }).pod.name, 'current');
    });

    it('refuses to guess between several holders (host-network pods share the node address)', () => {
      const a = podFacts({ name: 'agent-a', hostNetwork: true });
      const b = podFacts({ name: 'agent-b', hostNetwork: true });
      assert.deepEqual(choosePodForAddress([a, b], '10.0.3.7', T0), { reason: '10.0.3.7 at 2026-11-27T12:00:00.000Z is ambiguous: held by shop/agent-a, shop/agent-b' });
    });

    it("never blames a pod of another namespace, or one that fits neither the alert's aggregated name nor its workload", () => {
      const claims = { namespace: 'shop', nameAggr: 'web-7d9f8c6b5-*', workload: 'deployment/web' };
      const ledger = podFacts({ namespace: 'payments', name: 'ledger-0', uid: 'u-ledger', owner: { kind: 'StatefulSet', name: 'ledger' }, labels: { app: 'ledger' } });
      assert.deepEqual(choosePodForAddress([ledger], '10.0.3.7', T0, claims), {
        reason: "10.0.3.7 at 2026-11-27T12:00:00.000Z was held by payments/ledger-0, not by the alert's subject shop/web-7d9f8c6b5-* (deployment/web): refused rather than guessed",
      });
      // Two holders, one of them the alert's: no ambiguity left.
      const chosen = choosePodForAddress([ledger, current], '10.0.3.7', T0, { namespace: 'shop' });
      assert.equal('pod' in chosen && chosen.pod.name, 'current');
    });

    it('matches a name by the prefix of its aggregate, an exact name otherwise, or the workload', () => {
      const web = podFacts();
      assert.equal(podMatchesClaims(web, { nameAggr: 'web-7d9f8c6b5-*' }), true);
      assert.equal(podMatchesClaims(web, { nameAggr: 'web-5c6d7e8f9-*' }), false);
      assert.equal(podMatchesClaims(web, { nameAggr: 'web-5c6d7e8f9-*', workload: 'deployment/web' }), true);
      assert.equal(podMatchesClaims(web, { nameAggr: 'web-7d9f8c6b5-f4x2k' }), true);
      assert.equal(podMatchesClaims(web, { nameAggr: 'web' }), false);
      assert.equal(podMatchesClaims(web, { workload: 'deployment/cart' }), false);
      assert.equal(podMatchesClaims(web, { namespace: 'payments', workload: 'deployment/web' }), false);
      assert.equal(podMatchesClaims(podFacts({ name: 'db-0', owner: { kind: 'StatefulSet', name: 'db' } }), { nameAggr: 'db', workload: 'statefulset/db' }), true);
      // Nothing claimed but the address: the address at the alert's time decides alone.
      assert.equal(podMatchesClaims(web, {}), true);
    });

    it('answers no pod when none is listed, or only one being deleted', () => {
      assert.deepEqual(choosePodForAddress([], '10.0.3.7', T0), { reason: 'no pod held 10.0.3.7 at 2026-11-27T12:00:00.000Z' });
      assert.ok('reason' in choosePodForAddress([podFacts({ deleting: true })], '10.0.3.7', T0));
    });
  });
});
