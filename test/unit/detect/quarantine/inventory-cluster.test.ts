import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { InventoryQuarantineCluster } from '../../../../detect/quarantine/inventory-cluster.js';
import { parseResponsePolicy, QuarantineApiError, QuarantineResponder, type QuarantinePlan } from '../../../../detect/quarantine/index.js';
import { allDemoPods, compromisedPod, demoPods, podObject } from '../../../../ingest/demo/demo-cluster.js';
import { alertOf } from './support.js';

const created = Date.UTC(2026, 10, 26, 9, 0, 0);
const cluster = () => new InventoryQuarantineCluster(allDemoPods.map((pod) => podObject(pod, created)));

describe('InventoryQuarantineCluster > the demo inventory as the responder sees it', () => {
  it('reads pods by name and by address, as the API server would', async () => {
    const pod = await cluster().readPod(compromisedPod.namespace, compromisedPod.name);
    assert.equal(pod?.uid, compromisedPod.uid);
    assert.equal(pod?.owner?.kind, 'ReplicaSet');
    assert.equal(pod?.ip, compromisedPod.ip);
    assert.equal(await cluster().readPod('stars', 'nope'), undefined);
    assert.deepEqual((await cluster().podsWithAddress(demoPods.postgres.ip)).map((found) => found.name), ['postgres-0']);
    assert.deepEqual(await cluster().podsWithAddress(demoPods.postgres.ip, ['stars']), []);
  });

  it('counts ready replicas per owner and climbs from a ReplicaSet to its Deployment', async () => {
    const replicaSet = await cluster().readOwner('ReplicaSet', 'stars', 'frontend-7d9f8c6b5');
    assert.deepEqual(replicaSet, { readyReplicas: 2, owner: { kind: 'Deployment', name: 'frontend' } });
    assert.deepEqual(await cluster().readOwner('Deployment', 'stars', 'frontend'), { readyReplicas: 2 });
    assert.deepEqual(await cluster().readOwner('StatefulSet', 'data', 'postgres'), { readyReplicas: 1 });
    assert.equal(await cluster().readOwner('Deployment', 'stars', 'nothing'), undefined);
  });

  it('refuses every write with an error that fails the action instead of retrying the batch', async () => {
    const error = await cluster()
      .write({ kind: 'patch-pod', namespace: 'stars', name: compromisedPod.name, patch: { metadata: { resourceVersion: '1', labels: {}, annotations: {} } } })
      .then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof QuarantineApiError);
    assert.equal(error.retriable, false);
    assert.match(error.message, /read-only/);
  });

  it('lets a dry-run rule plan the quarantine of the alert pod with the exact requests, writing nothing', async () => {
    const plans: QuarantinePlan[] = [];
    const responder = new QuarantineResponder({
      kubeConfig: new KubeConfig(),
      policy: parseResponsePolicy('rules:\n  - name: all\n    backend: calico\n    dryRun: true\n', 'policy'),
      cluster: cluster(),
      safety: { selfNamespace: 'flowsentry' },
      onDryRun: (plan) => plans.push(plan),
    });
    const alert = alertOf({ source_namespace: compromisedPod.namespace, source_name: compromisedPod.name, source_name_aggr: 'frontend-7d9f8c6b5-*', source_workload: 'deployment/frontend', source_ip: compromisedPod.ip });
    const [action] = await responder.respond(alert);
    assert.equal(action?.status, 'requested', action?.reason ?? '');
    assert.equal(action?.dry_run, true);
    assert.equal(action?.target.name, compromisedPod.name);
    assert.equal(plans.length, 1);
    assert.match(plans[0]!.text, new RegExp(`/api/v1/namespaces/stars/pods/${compromisedPod.name}`));
  });
});
