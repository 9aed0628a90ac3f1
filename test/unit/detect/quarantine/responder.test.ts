import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { QuarantineApiError } from '../../../../detect/quarantine/quarantine-errors.js';
import { QUARANTINE_LABEL } from '../../../../detect/quarantine/quarantine-names.js';
import { QuarantineResponder, ownNamespace, type QuarantinePlan, type QuarantineResponderOptions } from '../../../../detect/quarantine/quarantine-responder.js';
import { parseResponsePolicy, type QuarantineBackend } from '../../../../detect/quarantine/response-policy.js';
import type { PodFacts } from '../../../../detect/quarantine/pod-facts.js';
import type { Alert, ResponseAction } from '../../../../schemas/types.js';
import { FakeCluster, unusedKubeConfig } from './fake-cluster.js';
import { alertOf, podFacts, T0 } from './support.js';

const MIN = 60_000;

const policyOf = (backend: QuarantineBackend = 'calico', ttl = '1h') => parseResponsePolicy(`rules: [{ name: scans, match: { detectors: [port_scan] }, backend: ${backend}, ttl: ${ttl} }]`, 'test policy');

interface Setup {
  readonly cluster: FakeCluster;
  readonly responder: QuarantineResponder;
  readonly clock: { now: number };
  /** Another responder on the same cluster and clock: a restarted process. */
  readonly restarted: () => QuarantineResponder;
}

function setup(options: Partial<QuarantineResponderOptions> = {}, cluster = new FakeCluster()): Setup {
  const clock = { now: T0 + 1_000 };
  const make = () =>
    new QuarantineResponder({ kubeConfig: unusedKubeConfig, policy: policyOf(), cluster, now: () => clock.now, ...options, safety: { selfNamespace: 'flowsentry', ...options.safety } });
  return { cluster, responder: make(), clock, restarted: make };
}

/** A pod of Deployment `deployment` (ReplicaSet `<deployment>-<hash>`), created an hour before T0. */
function deploymentPod(namespace: string, deployment: string, suffix: string, ip: string, hash = '7d9f8c6b5'): PodFacts {
  return podFacts({
    namespace,
    name: `${deployment}-${hash}-${suffix}`,
    uid: `uid-${namespace}-${deployment}-${hash}-${suffix}`,
    ip,
    labels: { app: deployment, 'pod-template-hash': hash },
    owner: { kind: 'ReplicaSet', name: `${deployment}-${hash}` },
  });
}

function statefulPod(namespace: string, set: string, ordinal: number, ip: string): PodFacts {
  return podFacts({ namespace, name: `${set}-${ordinal}`, uid: `uid-${namespace}-${set}-${ordinal}`, ip, labels: { app: set }, owner: { kind: 'StatefulSet', name: set } });
}

/** A Deployment and its ReplicaSets, with the ready replicas their status reports. */
function addDeployment(cluster: FakeCluster, namespace: string, name: string, ready: number, hashes = ['7d9f8c6b5']): void {
  cluster.setOwner('Deployment', namespace, name, { readyReplicas: ready });
  for (const hash of hashes) cluster.setOwner('ReplicaSet', namespace, `${name}-${hash}`, { readyReplicas: ready, owner: { kind: 'Deployment', name } });
}

let alerts = 0;
/** An alert naming a pod (the enricher knew it). */
function alertOn(pod: Pick<PodFacts, 'namespace' | 'name'>, overrides: Partial<Alert> = {}): Alert {
  const fingerprint = `port_scan:${(++alerts).toString(16).padStart(16, '0')}`;
  return alertOf({ alert_id: `${fingerprint}:${T0}`, fingerprint, source_namespace: pod.namespace, source_name: pod.name, source_ip: null, ...overrides });
}

/** An alert that knows the subject only by address, namespace, aggregated name and workload. */
function alertByAddress(ip: string, namespace: string | null, nameAggr: string, workload: string | null): Alert {
  return alertOn({ namespace: '', name: '' }, { source_ip: ip, source_namespace: namespace, source_name: null, source_name_aggr: nameAggr, source_workload: workload });
}

function only(actions: readonly ResponseAction[]): ResponseAction {
  assert.equal(actions.length, 1, JSON.stringify(actions));
  return actions[0]!;
}

const isApiError = (status: number | undefined) => (error: unknown) => error instanceof QuarantineApiError && error.status === status;

describe('Detect > quarantine > responder', () => {
  describe('API errors when quarantining', () => {
    it('rethrows an error worth retrying (5xx, 429, no answer), so the alert is decided again later', async () => {
      for (const status of [503, 429, undefined]) {
        const { cluster, responder } = setup();
        const pod = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
        addDeployment(cluster, 'shop', 'web', 3);
        cluster.failWith('readPod', status, 1);
        await assert.rejects(responder.respond(alertOn(pod)), isApiError(status));
        assert.equal(cluster.pod('shop', pod.name).labels[QUARANTINE_LABEL], undefined);
        // Once the API server answers, the same alert is decided and applied.
        assert.equal(only(await responder.respond(alertOn(pod))).status, 'applied');
      }
    });

    it('records an error that does not come from the API server as a failed action naming it, and goes on', async () => {
      const { cluster, responder } = setup();
      const pod = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
      addDeployment(cluster, 'shop', 'web', 3);
      const patch = cluster.write.bind(cluster);
      cluster.write = () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'labels')"));
      const failed = only(await responder.respond(alertOn(pod)));
      assert.equal(failed.status, 'failed');
      assert.match(failed.reason ?? '', /^internal error deciding alert .*: TypeError: Cannot read properties of undefined/);
      cluster.write = patch;
    });

    it('hands a dry-run decision\'s exact requests to onDryRun and writes nothing', async () => {
      const plans: QuarantinePlan[] = [];
      const policy = parseResponsePolicy('rules: [{ name: scans, match: { detectors: [port_scan] }, backend: networkpolicy, dryRun: true }]', 'test policy');
      const { cluster, responder } = setup({ policy, onDryRun: (plan) => plans.push(plan) });
      const pod = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
      addDeployment(cluster, 'shop', 'web', 3);
      const action = only(await responder.respond(alertOn(pod)));
      assert.deepEqual([action.status, action.dry_run], ['requested', true]);
      assert.equal(plans.length, 1);
      const requests = JSON.parse(plans[0]!.text) as { method: string; path: string }[];
      assert.ok(requests.some((request) => request.method === 'PATCH' && request.path.endsWith(`/namespaces/shop/pods/${pod.name}`)), plans[0]!.text);
      assert.equal(cluster.pod('shop', pod.name).labels[QUARANTINE_LABEL], undefined, 'nothing written');
    });

    it('rethrows a 503 from the pod patch too', async () => {
      const { cluster, responder } = setup();
      const pod = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
      addDeployment(cluster, 'shop', 'web', 3);
      cluster.failWith('patch-pod', 503);
      await assert.rejects(responder.respond(alertOn(pod)), isApiError(503));
    });

    it('makes a refusal that retrying cannot change (403) a failed action naming the call', async () => {
      const { cluster, responder } = setup();
      const pod = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
      addDeployment(cluster, 'shop', 'web', 3);
      cluster.failWith('readPod', 403);
      const failed = only(await responder.respond(alertOn(pod)));
      assert.equal(failed.status, 'failed');
      assert.equal(failed.reason, `get pod shop/${pod.name}: HTTP 403: answer 403`);
    });
  });

  describe('API errors when lifting', () => {
    async function quarantined(ttl = '1h') {
      const s = setup({ policy: policyOf('calico', ttl) });
      const pod = s.cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
      addDeployment(s.cluster, 'shop', 'web', 3);
      const applied = only(await s.responder.respond(alertOn(pod)));
      assert.equal(applied.status, 'applied', applied.reason ?? '');
      return { ...s, pod, id: applied.action_id };
    }

    it('release: throws an error worth retrying instead of a failed undo; a 403 is a failed undo', async () => {
      const { cluster, responder, pod, id } = await quarantined();
      cluster.failWith('patch-pod', 503, 1);
      await assert.rejects(responder.release(id, 'alice'), isApiError(503));
      cluster.failWith('patch-pod', undefined, 1);
      await assert.rejects(responder.release(id, 'alice'), isApiError(undefined));
      assert.equal(cluster.pod('shop', pod.name).labels[QUARANTINE_LABEL], id);

      cluster.failWith('patch-pod', 403, 1);
      const failed = only(await responder.release(id, 'alice'));
      assert.deepEqual([failed.kind, failed.status], ['undo', 'failed']);
      assert.equal(failed.reason, `released by alice: patch pod shop/${pod.name}: HTTP 403: answer 403`);

      assert.equal(only(await responder.release(id, 'alice')).status, 'undone');
    });

    it('release: a retriable error when reading the pod again after a conflict is thrown too', async () => {
      const { cluster, responder, id } = await quarantined();
      cluster.failWith('patch-pod', 409, 1);
      cluster.failWith('readPod', 500, 1);
      await assert.rejects(responder.release(id, 'alice'), isApiError(500));
    });

    it('releaseExpired: throws while the API server fails (no failed undo each tick), and expires the quarantine once it answers', async () => {
      const { cluster, responder, clock, pod, id } = await quarantined('1m');
      clock.now += 2 * MIN;
      cluster.failWith('patch-pod', 503);
      for (let tick = 0; tick < 3; tick++) await assert.rejects(responder.releaseExpired(), isApiError(503));
      assert.equal(cluster.pod('shop', pod.name).labels[QUARANTINE_LABEL], id);
      cluster.heal();
      const expired = only(await responder.releaseExpired());
      assert.deepEqual([expired.kind, expired.status, expired.undoes_action_id], ['undo', 'expired', id]);
      assert.deepEqual(await responder.releaseExpired(), []);
    });

    it('releaseExpired: a 403 stays a failed undo', async () => {
      const { cluster, responder, clock } = await quarantined('1m');
      clock.now += 2 * MIN;
      cluster.failWith('patch-pod', 403, 1);
      assert.equal(only(await responder.releaseExpired()).status, 'failed');
    });

    it('releaseExpired: releases done before the error are returned by the next call, so none goes unaudited', async () => {
      const { cluster, responder, clock } = setup({ policy: policyOf('calico', '1m') });
      addDeployment(cluster, 'shop', 'web', 5);
      const pods = ['a1', 'a2'].map((suffix, index) => cluster.addPod(deploymentPod('shop', 'web', suffix, `10.0.3.${index + 1}`)));
      const ids = [];
      for (const pod of pods) ids.push(only(await responder.respond(alertOn(pod))).action_id);
      clock.now += 2 * MIN;
      // The first lift goes through, the second meets a 502.
      let patches = 0;
      const write = cluster.write.bind(cluster);
      cluster.write = async (w) => {
        if (w.kind === 'patch-pod' && ++patches === 2) throw new QuarantineApiError(`patch pod ${w.namespace}/${w.name}`, 502, 'bad gateway');
        return write(w);
      };
      await assert.rejects(responder.releaseExpired(), isApiError(502));
      cluster.write = write;
      const actions = await responder.releaseExpired();
      assert.deepEqual(actions.map((action) => [action.status, action.undoes_action_id]).sort(), ids.map((id) => ['expired', id]).sort());
      assert.deepEqual(await responder.releaseExpired(), []);
    });
  });

  describe('minimum healthy replicas, with quarantined pods still counted ready', () => {
    it('refuses the second pod of a 2-replica Deployment at minimum 1: the first is already quarantined', async () => {
      const { cluster, responder } = setup({ safety: { minHealthyReplicas: 1 } });
      addDeployment(cluster, 'shop', 'web', 2);
      const web1 = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.1'));
      const web2 = cluster.addPod(deploymentPod('shop', 'web', 'a2', '10.0.3.2'));
      assert.equal(only(await responder.respond(alertOn(web1))).status, 'applied');
      // calico keeps the pod's labels and readiness: the status still says 2 ready.
      const second = only(await responder.respond(alertOn(web2)));
      assert.equal(second.status, 'skipped');
      assert.equal(second.reason, 'would leave deployment web with 0 ready replicas (1 already quarantined), minimum 1');
      assert.equal(cluster.pod('shop', web2.name).labels[QUARANTINE_LABEL], undefined);
    });

    it("counts quarantined pods of the Deployment's other ReplicaSets (a rollout), not other Deployments' pods", async () => {
      const { cluster, responder } = setup({ safety: { minHealthyReplicas: 1 } });
      addDeployment(cluster, 'shop', 'web', 3, ['7d9f8c6b5', '5c6d7e8f9']);
      addDeployment(cluster, 'shop', 'webhook', 3);
      const old = cluster.addPod(deploymentPod('shop', 'web', 'o1', '10.0.3.1', '5c6d7e8f9'));
      const other = cluster.addPod(deploymentPod('shop', 'webhook', 'h1', '10.0.3.2'));
      const next = cluster.addPod(deploymentPod('shop', 'web', 'n1', '10.0.3.3'));
      const last = cluster.addPod(deploymentPod('shop', 'web', 'n2', '10.0.3.4'));
      for (const pod of [old, other, next]) assert.equal(only(await responder.respond(alertOn(pod))).status, 'applied', pod.name);
      const refused = only(await responder.respond(alertOn(last)));
      assert.equal(refused.reason, 'would leave deployment web with 0 ready replicas (2 already quarantined), minimum 1');
    });

    it('refuses the second pod of a 2-replica StatefulSet at minimum 1', async () => {
      const { cluster, responder } = setup({ safety: { minHealthyReplicas: 1 } });
      cluster.setOwner('StatefulSet', 'data', 'db', { readyReplicas: 2 });
      const db0 = cluster.addPod(statefulPod('data', 'db', 0, '10.0.9.1'));
      const db1 = cluster.addPod(statefulPod('data', 'db', 1, '10.0.9.2'));
      assert.equal(only(await responder.respond(alertOn(db0))).status, 'applied');
      assert.equal(only(await responder.respond(alertOn(db1))).reason, 'would leave statefulset db with 0 ready replicas (1 already quarantined), minimum 1');
    });
  });

  describe('a subject found by address', () => {
    it("refuses a pod of another namespace that now holds the alert's address", async () => {
      const { cluster, responder } = setup();
      addDeployment(cluster, 'shop', 'web', 3);
      cluster.setOwner('StatefulSet', 'payments', 'ledger', { readyReplicas: 3 });
      const ledger = cluster.addPod(statefulPod('payments', 'ledger', 0, '10.0.3.7'));
      const refused = only(await responder.respond(alertByAddress('10.0.3.7', 'shop', 'web-7d9f8c6b5-*', 'deployment/web')));
      assert.equal(refused.status, 'skipped');
      assert.equal(
        refused.reason,
        "10.0.3.7 at 2026-11-27T12:00:00.000Z was held by payments/ledger-0, not by the alert's subject shop/web-7d9f8c6b5-* (deployment/web): refused rather than guessed",
      );
      assert.equal(cluster.pod('payments', ledger.name).labels[QUARANTINE_LABEL], undefined);
      assert.ok(!cluster.calls.includes('patch-pod'));
    });

    it('refuses a pod of the same namespace that fits neither the aggregated name nor the workload', async () => {
      const { cluster, responder } = setup();
      cluster.addPod(deploymentPod('shop', 'cart', 'c1', '10.0.3.7'));
      addDeployment(cluster, 'shop', 'cart', 3);
      const refused = only(await responder.respond(alertByAddress('10.0.3.7', 'shop', 'web-7d9f8c6b5-*', 'deployment/web')));
      assert.equal(refused.status, 'skipped');
      assert.match(refused.reason ?? '', /was held by shop\/cart-7d9f8c6b5-c1, not by the alert's subject/);
    });

    it('takes the pod that fits the aggregated name, or the workload (a newer ReplicaSet)', async () => {
      const { cluster, responder } = setup();
      addDeployment(cluster, 'shop', 'web', 3, ['7d9f8c6b5', '5c6d7e8f9']);
      const pod = cluster.addPod(deploymentPod('shop', 'web', 'a1', '10.0.3.7'));
      const byName = only(await responder.respond(alertByAddress('10.0.3.7', 'shop', 'web-7d9f8c6b5-*', null)));
      assert.deepEqual([byName.status, byName.target.name], ['applied', pod.name]);
      const newer = cluster.addPod(deploymentPod('shop', 'web', 'b1', '10.0.3.8', '5c6d7e8f9'));
      const byWorkload = only(await responder.respond(alertByAddress('10.0.3.8', 'shop', 'web-7d9f8c6b5-*', 'deployment/web')));
      assert.deepEqual([byWorkload.status, byWorkload.target.name], ['applied', newer.name]);
    });

    it("refuses a subject whose namespace is outside the responder's namespaces", async () => {
      const { cluster, responder } = setup({ namespaces: ['payments'] });
      cluster.addPod(statefulPod('payments', 'ledger', 0, '10.0.3.7'));
      const refused = only(await responder.respond(alertByAddress('10.0.3.7', 'shop', 'web-7d9f8c6b5-*', 'deployment/web')));
      assert.equal(refused.reason, "namespace shop is outside the responder's namespaces");
    });
  });

  describe('circuit breaker', () => {
    const safety = { maxPerWindow: 2, windowMs: 10 * MIN, coolDownMs: 10 * MIN, minHealthyReplicas: 0 };

    it('still counts quarantines lifted within the window (TTL shorter than the window, released by hand, pod deleted)', async () => {
      const { cluster, responder, clock } = setup({ policy: policyOf('calico', '1m'), safety });
      const pods = ['p0', 'p1', 'p2', 'p3'].map((name, index) => cluster.addPod(podFacts({ name, uid: `uid-${name}`, owner: undefined, ip: `10.0.4.${index}` })));
      const first = only(await responder.respond(alertOn(pods[0]!)));
      assert.equal(first.status, 'applied');
      clock.now += 2 * MIN;
      assert.equal(only(await responder.releaseExpired()).status, 'expired');
      assert.equal(only(await responder.respond(alertOn(pods[1]!))).status, 'applied');
      clock.now += 2 * MIN;
      // Nothing is labelled any more, yet two quarantines were applied within 10 minutes.
      assert.equal(only(await responder.releaseExpired()).status, 'expired');
      assert.deepEqual(await cluster.quarantinedPods(), []);
      const refused = only(await responder.respond(alertOn(pods[2]!)));
      assert.equal(refused.status, 'skipped');
      assert.match(refused.reason ?? '', /^circuit breaker open: 2 quarantines in 10 min \(closes at /);

      // Once window and cool-down have passed, quarantines go through again.
      clock.now += 20 * MIN;
      const later = only(await responder.respond(alertOn(pods[2]!)));
      assert.equal(later.status, 'applied', later.reason ?? '');
      assert.equal(only(await responder.release(later.action_id, 'alice')).status, 'undone');
      cluster.deletePod('shop', 'p2');
      assert.equal(only(await responder.respond(alertOn(pods[3]!))).status, 'applied');
      assert.equal(only(await responder.respond(alertOn(pods[0]!, { alert_id: 'again' }))).status, 'skipped');
    });

    it('counts a quarantine once when both the API and the memory know it', async () => {
      const { cluster, responder } = setup({ safety: { ...safety, maxPerWindow: 3 } });
      const pods = ['p0', 'p1', 'p2'].map((name, index) => cluster.addPod(podFacts({ name, uid: `uid-${name}`, owner: undefined, ip: `10.0.4.${index}` })));
      for (const pod of pods) assert.equal(only(await responder.respond(alertOn(pod))).status, 'applied');
    });

    it('a restarted responder sees only the quarantines still in place', async () => {
      const { cluster, responder, clock, restarted } = setup({ policy: policyOf('calico', '1m'), safety });
      const pods = ['p0', 'p1', 'p2'].map((name, index) => cluster.addPod(podFacts({ name, uid: `uid-${name}`, owner: undefined, ip: `10.0.4.${index}` })));
      for (const pod of pods.slice(0, 2)) assert.equal(only(await responder.respond(alertOn(pod))).status, 'applied');
      clock.now += 2 * MIN;
      assert.equal((await responder.releaseExpired()).length, 2);
      assert.equal(only(await restarted().respond(alertOn(pods[2]!))).status, 'applied');
    });
  });

  describe("the responder's own namespace", () => {
    it('is always protected', async () => {
      const { cluster, responder } = setup({ safety: { selfNamespace: 'flowsentry', protectedNamespaces: [] } });
      const own = cluster.addPod(podFacts({ namespace: 'flowsentry', name: 'respond-0', owner: undefined }));
      const refused = only(await responder.respond(alertOn(own)));
      assert.deepEqual([refused.status, refused.reason], ['skipped', "protected namespace flowsentry (the responder's own)"]);
      assert.equal(cluster.pod('flowsentry', 'respond-0').labels[QUARANTINE_LABEL], undefined);
    });

    it("is read from the service account's namespace file, else POD_NAMESPACE", () => {
      const dir = mkdtempSync(join(tmpdir(), 'fsq-ns-'));
      try {
        const file = join(dir, 'namespace');
        assert.equal(ownNamespace(file, {}), undefined);
        assert.equal(ownNamespace(file, { POD_NAMESPACE: 'from-env' }), 'from-env');
        writeFileSync(file, 'flowsentry\n');
        assert.equal(ownNamespace(file, { POD_NAMESPACE: 'from-env' }), 'flowsentry');
        writeFileSync(file, '');
        assert.equal(ownNamespace(file, {}), undefined);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('is protected by default, without being told', async () => {
      const saved = process.env.POD_NAMESPACE;
      process.env.POD_NAMESPACE = 'fs-self';
      try {
        const self = ownNamespace()!;
        const cluster = new FakeCluster();
        const responder = new QuarantineResponder({ kubeConfig: unusedKubeConfig, policy: policyOf(), cluster, now: () => T0 + 1_000 });
        const own = cluster.addPod(podFacts({ namespace: self, name: 'respond-0', owner: undefined }));
        assert.equal(only(await responder.respond(alertOn(own))).reason, `protected namespace ${self} (the responder's own)`);
      } finally {
        if (saved === undefined) delete process.env.POD_NAMESPACE;
        else process.env.POD_NAMESPACE = saved;
      }
    });
  });
});
