import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1OwnerReference,
  type V1Pod,
} from '@kubernetes/client-node';
import { adminNetworkPolicy, calicoPolicy, namespacedNetworkPolicy } from '../../detect/quarantine/policy-objects.js';
import {
  QUARANTINE_LABEL,
  QuarantineResponder,
  parseResponsePolicy,
  quarantineAnnotations as notes,
  quarantineId,
  type QuarantineBackend,
  type QuarantineResponderOptions,
  type ResponsePolicy,
} from '../../detect/quarantine/index.js';
import type { Alert, ResponseAction } from '../../schemas/types.js';
import { repoDir } from '../../services/paths.js';
import { adminKubeConfig, serviceAccountKubeConfig, testNamespace } from '../support/kubernetes.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { alertOf } from '../unit/detect/quarantine/support.js';

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const objects = admin.makeApiClient(CustomObjectsApi);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Names of the cluster-scoped policy objects: unique to this run, deleted at the end. */
const policyName = uniqueName('fsq');
const rbacPolicyName = uniqueName('fsq-rbac');
const dryPolicyName = uniqueName('fsq-dry');
const roleName = uniqueName('fsq-responder');

const resources = {
  calico: { group: 'crd.projectcalico.org', version: 'v1', plural: 'globalnetworkpolicies' },
  adminnetworkpolicy: { group: 'policy.networking.k8s.io', version: 'v1alpha1', plural: 'adminnetworkpolicies' },
};

/** The ClusterRole README.md gives, verb for verb. */
const readmeRules = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['apps'], resources: ['replicasets', 'deployments', 'statefulsets'], verbs: ['get'] },
  { apiGroups: ['crd.projectcalico.org'], resources: ['globalnetworkpolicies'], verbs: ['get', 'create', 'patch'] },
  { apiGroups: ['policy.networking.k8s.io'], resources: ['adminnetworkpolicies'], verbs: ['get', 'create', 'patch'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'create', 'patch'] },
];

const subnet = `10.${randomInt(100, 250)}.${randomInt(0, 256)}`;
let hosts = 0;
const nextIp = () => `${subnet}.${++hosts}`;

interface PodOptions {
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly owner?: V1OwnerReference;
  readonly hostNetwork?: boolean;
  readonly nodeName?: string;
  readonly ip?: string;
  readonly phase?: string;
}

/** A pod with the status a kubelet would have written (none runs here). */
async function makePod(namespace: string, name: string, options: PodOptions = {}): Promise<V1Pod> {
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: options.labels ?? {}, annotations: options.annotations ?? {}, ...(options.owner ? { ownerReferences: [options.owner] } : {}) },
      spec: {
        containers: [{ name: 'main', image: 'registry.example/app:1' }],
        automountServiceAccountToken: false,
        ...(options.hostNetwork ? { hostNetwork: true } : {}),
        ...(options.nodeName ? { nodeName: options.nodeName } : {}),
      },
    },
  });
  const ip = options.ip ?? nextIp();
  const phase = options.phase ?? 'Running';
  const ready = phase === 'Running' ? 'True' : 'False';
  return core.patchNamespacedPodStatus({ namespace, name, body: { status: { phase, podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready }] } } }, mergePatch);
}

const readPod = (namespace: string, name: string) => core.readNamespacedPod({ namespace, name });

const ownerRef = (kind: string, name: string, uid: string, apiVersion = 'apps/v1'): V1OwnerReference => ({ apiVersion, kind, name, uid, controller: true });

const template = (app: string) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: 'main', image: 'registry.example/app:1' }] } });

/** A Deployment and its ReplicaSet, written by hand with `ready` ready replicas (no controller runs). */
async function makeDeployment(namespace: string, name: string, ready: number): Promise<V1OwnerReference> {
  const spec = { replicas: ready, selector: { matchLabels: { app: name } }, template: template(name) };
  const deployment = await apps.createNamespacedDeployment({ namespace, body: { metadata: { name }, spec } });
  const counts = { replicas: ready, readyReplicas: ready, availableReplicas: ready };
  await apps.patchNamespacedDeploymentStatus({ namespace, name, body: { status: { ...counts, updatedReplicas: ready } } }, mergePatch);
  const rsName = `${name}-7d9f8c6b5`;
  const replicaSet = await apps.createNamespacedReplicaSet({
    namespace,
    body: { metadata: { name: rsName, ownerReferences: [ownerRef('Deployment', name, deployment.metadata!.uid!)] }, spec },
  });
  await apps.patchNamespacedReplicaSetStatus({ namespace, name: rsName, body: { status: { ...counts, fullyLabeledReplicas: ready } } }, mergePatch);
  return ownerRef('ReplicaSet', rsName, replicaSet.metadata!.uid!);
}

async function makeStatefulSet(namespace: string, name: string, ready: number): Promise<V1OwnerReference> {
  const spec = { replicas: ready, serviceName: name, selector: { matchLabels: { app: name } }, template: template(name) };
  const set = await apps.createNamespacedStatefulSet({ namespace, body: { metadata: { name }, spec } });
  await apps.patchNamespacedStatefulSetStatus({ namespace, name, body: { status: { replicas: ready, readyReplicas: ready, availableReplicas: ready } } }, mergePatch);
  return ownerRef('StatefulSet', name, set.metadata!.uid!);
}

/** An alert about a pod, by name (the enricher knew it) or only by address. */
function alertAbout(subject: { namespace: string; name?: string; ip?: string }): Alert {
  const now = Date.now();
  const fingerprint = `port_scan:${randomBytes(8).toString('hex')}`;
  return alertOf({
    alert_id: `${fingerprint}:${now}`,
    fingerprint,
    start_time: now - 60_000,
    end_time: now,
    source_ip: subject.ip ?? null,
    source_namespace: subject.namespace,
    source_name: subject.name ?? null,
  });
}

const policyOf = (backend: QuarantineBackend, extra = '') => parseResponsePolicy(`rules: [{ name: scans, match: { detectors: [port_scan] }, backend: ${backend}${extra} }]`, 'test policy');

function responderFor(policy: ResponsePolicy, namespaces: readonly string[], more: Partial<QuarantineResponderOptions> = {}): QuarantineResponder {
  return new QuarantineResponder({ kubeConfig: admin, policy, policyName, namespaces, ...more });
}

function only(actions: readonly ResponseAction[]): ResponseAction {
  assert.equal(actions.length, 1, JSON.stringify(actions));
  return actions[0]!;
}

function runCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'quarantine', ...args], { cwd: repoDir, env: process.env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const quarantineNotes = Object.values(notes).filter((key) => key !== notes.released);
const quarantineAnnotationsOf = (pod: V1Pod) => Object.keys(pod.metadata?.annotations ?? {}).filter((key) => quarantineNotes.includes(key as (typeof quarantineNotes)[number]));

describe('Detect > quarantine > Kubernetes API', () => {
  const spaces: { name: string; remove: () => Promise<void> }[] = [];
  let ns = '';
  let breakerNs = '';
  let ttlNs = '';
  let rbacNs = '';
  let otherNs = '';
  let shortNs = '';

  before(async () => {
    for (const prefix of ['quarantine', 'quarantine-breaker', 'quarantine-ttl', 'quarantine-rbac', 'quarantine-other', 'quarantine-short']) spaces.push(await testNamespace(prefix));
    [ns, breakerNs, ttlNs, rbacNs, otherNs, shortNs] = spaces.map((space) => space.name) as [string, string, string, string, string, string];
  });

  after(async () => {
    // Pods first, so no quarantine label outlives the test (a namespace never finishes deleting here).
    for (const namespace of [...spaces.map((space) => space.name), 'kube-system']) {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: namespace === 'kube-system' ? 'flowsentry-test=quarantine' : undefined });
      for (const pod of pods.items) await core.deleteNamespacedPod({ namespace, name: pod.metadata!.name!, gracePeriodSeconds: 0 }).catch(() => undefined);
    }
    for (const name of [policyName, rbacPolicyName, dryPolicyName]) {
      for (const resource of Object.values(resources)) await objects.deleteClusterCustomObject({ ...resource, name }).catch(() => undefined);
    }
    await rbac.deleteClusterRoleBinding({ name: roleName }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: roleName }).catch(() => undefined);
    for (const space of spaces) await space.remove();
  });

  it('calico: quarantines the pod that holds the address, once, and a restarted responder agrees', async (t) => {
    const ip = nextIp();
    const owner = await makeDeployment(ns, 'web', 3);
    await makePod(ns, 'web-old', { ip, phase: 'Succeeded', labels: { app: 'web' } });
    const pod = await makePod(ns, 'web-7d9f8c6b5-a1', { ip, labels: { app: 'web' }, owner });
    const alert = alertAbout({ namespace: ns, ip });
    const responder = responderFor(policyOf('calico', ', ttl: 1h'), [ns]);

    const started = performance.now();
    const first = await responder.respond(alert);
    t.diagnostic(`respond → applied (calico, by address) in ${(performance.now() - started).toFixed(0)} ms`);
    const action = only(first);
    assert.equal(action.status, 'applied', action.reason ?? '');
    assert.equal(action.action_id, quarantineId(alert.alert_id, pod.metadata!.uid!));
    assert.deepEqual(action.target, { kind: 'Pod', namespace: ns, name: 'web-7d9f8c6b5-a1', uid: pod.metadata!.uid });
    assert.equal(action.dry_run, false);
    assert.equal(action.expires_at, action.completed_at! + 3_600_000);

    const quarantined = await readPod(ns, 'web-7d9f8c6b5-a1');
    assert.deepEqual(quarantined.metadata!.labels, { app: 'web', [QUARANTINE_LABEL]: action.action_id });
    const annotations = quarantined.metadata!.annotations!;
    assert.equal(annotations[notes.alertId], alert.alert_id);
    assert.equal(annotations[notes.backend], 'calico');
    assert.equal(Date.parse(annotations[notes.appliedAt]!), action.completed_at);
    assert.equal(Date.parse(annotations[notes.expiresAt]!), action.expires_at);
    assert.equal(annotations[notes.originalLabels], undefined);
    assert.equal((await readPod(ns, 'web-old')).metadata!.labels![QUARANTINE_LABEL], undefined, 'the terminated pod that held the address before is left alone');

    const policy = (await objects.getClusterCustomObject({ ...resources.calico, name: policyName })) as { spec: unknown; metadata: { resourceVersion: string } };
    assert.deepEqual(policy.spec, calicoPolicy(policyName).spec);

    // Redelivered: the same action again, nothing written.
    assert.deepEqual(await responder.respond(alert), first);
    assert.deepEqual(await responderFor(policyOf('calico', ', ttl: 1h'), [ns]).respond(alert), first, 'a new responder finds the quarantine in the API');
    assert.equal((await readPod(ns, 'web-7d9f8c6b5-a1')).metadata!.resourceVersion, quarantined.metadata!.resourceVersion);
    const again = (await objects.getClusterCustomObject({ ...resources.calico, name: policyName })) as { metadata: { resourceVersion: string } };
    assert.equal(again.metadata.resourceVersion, policy.metadata.resourceVersion);

    // Another alert about the same pod adds no second quarantine.
    assert.deepEqual(await responder.respond(alertAbout({ namespace: ns, name: 'web-7d9f8c6b5-a1' })), []);
    assert.deepEqual((await readPod(ns, 'web-7d9f8c6b5-a1')).metadata!.labels![QUARANTINE_LABEL], action.action_id);
  });

  it('networkpolicy: takes the labels away into a record, and a release puts them back', async () => {
    const owner = await makeDeployment(ns, 'shopfront', 3);
    const labels = { app: 'shopfront', 'pod-template-hash': '7d9f8c6b5', 'app.kubernetes.io/part-of': 'shop' };
    const pod = await makePod(ns, 'shopfront-7d9f8c6b5-b2', { labels, owner, annotations: { 'team.example.com/owner': 'shop' } });
    const alert = alertAbout({ namespace: ns, name: 'shopfront-7d9f8c6b5-b2' });
    const responder = responderFor(policyOf('networkpolicy'), [ns]);

    const action = only(await responder.respond(alert));
    assert.equal(action.status, 'applied', action.reason ?? '');
    const quarantined = await readPod(ns, 'shopfront-7d9f8c6b5-b2');
    assert.deepEqual(quarantined.metadata!.labels, { [QUARANTINE_LABEL]: action.action_id });
    assert.deepEqual(JSON.parse(quarantined.metadata!.annotations![notes.originalLabels]!), labels);
    const policy = await objects.getNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespace: ns, name: policyName });
    assert.deepEqual(policy.spec, namespacedNetworkPolicy(policyName, ns).spec);

    assert.deepEqual(await responder.respond(alert), [action]);
    const policyAgain = await objects.getNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespace: ns, name: policyName });
    assert.equal(policyAgain.metadata.resourceVersion, policy.metadata.resourceVersion);
    assert.equal((await readPod(ns, 'shopfront-7d9f8c6b5-b2')).metadata!.resourceVersion, quarantined.metadata!.resourceVersion);

    const undo = only(await responder.release(action.action_id, 'alice'));
    assert.deepEqual(
      { ...undo, requested_at: 0, completed_at: 0 },
      {
        action_id: `${action.action_id}:undo`,
        alert_id: alert.alert_id,
        kind: 'undo',
        target: { kind: 'Pod', namespace: ns, name: 'shopfront-7d9f8c6b5-b2', uid: pod.metadata!.uid },
        dry_run: false,
        status: 'undone',
        reason: 'released by alice',
        requested_by: 'alice',
        requested_at: 0,
        completed_at: 0,
        expires_at: null,
        undoes_action_id: action.action_id,
      },
    );
    const released = await readPod(ns, 'shopfront-7d9f8c6b5-b2');
    assert.deepEqual(released.metadata!.labels, labels);
    assert.deepEqual(released.metadata!.annotations, { 'team.example.com/owner': 'shop', [notes.released]: action.action_id });
    // The shared policy stays, selecting nothing; the same alert does not quarantine again.
    await objects.getNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespace: ns, name: policyName });
    assert.deepEqual(await responder.respond(alert), []);
    assert.deepEqual(await responder.release(action.action_id, 'alice'), [], 'a second release finds nothing to lift');
    assert.equal((await readPod(ns, 'shopfront-7d9f8c6b5-b2')).metadata!.resourceVersion, released.metadata!.resourceVersion);
  });

  it('adminnetworkpolicy: quarantines by name; the CLI lists it and releases it', async (t) => {
    await makePod(ns, 'worker-c3', { labels: { app: 'worker' } });
    const alert = alertAbout({ namespace: ns, name: 'worker-c3' });
    const action = only(await responderFor(policyOf('adminnetworkpolicy', ', ttl: 30m'), [ns]).respond(alert));
    assert.equal(action.status, 'applied', action.reason ?? '');
    const policy = await objects.getClusterCustomObject({ ...resources.adminnetworkpolicy, name: policyName });
    assert.deepEqual(policy.spec, adminNetworkPolicy(policyName).spec);
    assert.deepEqual((await readPod(ns, 'worker-c3')).metadata!.labels, { app: 'worker', [QUARANTINE_LABEL]: action.action_id });

    const cliStarted = performance.now();
    // Two child processes at once (each loads the whole CLI): the list, and a release of an id nobody has.
    const [table, unknown] = await Promise.all([runCli(['list', '--namespace', ns]), runCli(['release', 'q-000000000000000000000000', '--namespace', ns])]);
    t.diagnostic(`flowsentry quarantine list and release (child processes) took ${(performance.now() - cliStarted).toFixed(0)} ms`);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`no quarantine q-0+ in place in ${ns}`));
    assert.equal(table.code, 0, table.stderr);
    const [header, ...rows] = table.stdout.trim().split('\n');
    assert.match(header!, /^ID\s+POD\s+BACKEND\s+ALERT\s+APPLIED\s+EXPIRES$/);
    const row = rows.find((line) => line.startsWith(action.action_id));
    assert.ok(row, table.stdout);
    const expires = new Date(action.expires_at!).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.deepEqual(row.split(/\s+/).slice(1), [`${ns}/worker-c3`, 'adminnetworkpolicy', alert.alert_id, new Date(action.completed_at!).toISOString().replace(/\.\d{3}Z$/, 'Z'), expires]);

    const release = await runCli(['release', action.action_id, '--by', 'bob']);
    assert.equal(release.code, 0, release.stderr);
    const undo = JSON.parse(release.stdout) as ResponseAction;
    assert.deepEqual([undo.kind, undo.status, undo.requested_by, undo.undoes_action_id], ['undo', 'undone', 'bob', action.action_id]);
    const released = await readPod(ns, 'worker-c3');
    assert.deepEqual(released.metadata!.labels, { app: 'worker' });
    assert.deepEqual(quarantineAnnotationsOf(released), []);

  });

  it('refuses, with the reason, and touches nothing: kube-system, DaemonSet, mirror, control-plane and hostNetwork pods, too few replicas', async () => {
    await core.createNamespacedServiceAccount({ namespace: 'kube-system', body: { metadata: { name: 'default' } } }).catch(() => undefined);
    const systemPod = uniqueName('fsq-system');
    const marked = { 'flowsentry-test': 'quarantine' };
    await makePod('kube-system', systemPod, { labels: marked });
    await makePod(ns, 'node-agent-x1', { owner: ownerRef('DaemonSet', 'node-agent', '0b8f1e3a-5c1d-4e0f-9a57-0d3f5e6b7c81') });
    await makePod(ns, 'static-web-node-a', {
      nodeName: 'node-a',
      annotations: { 'kubernetes.io/config.mirror': '9d2b6c1e' },
      owner: ownerRef('Node', 'node-a', '4a4b6f0e-2d38-4b0c-b1f4-8f5a5e0c2a10', 'v1'),
    });
    await makePod(ns, 'etcd-copy', { labels: { component: 'etcd', tier: 'storage' } });
    await makePod(ns, 'host-agent', { hostNetwork: true });
    await makePod(ns, 'api-7d9f8c6b5-d4', { labels: { app: 'api' }, owner: await makeDeployment(ns, 'api', 2) });
    await makePod(ns, 'db-0', { labels: { app: 'db' }, owner: await makeStatefulSet(ns, 'db', 1) });
    const responder = responderFor(policyOf('calico'), [ns, 'kube-system'], { safety: { minHealthyReplicas: 2 } });

    const expected: [string, string, string | RegExp][] = [
      ['kube-system', systemPod, 'protected namespace kube-system'],
      [ns, 'node-agent-x1', 'owned by DaemonSet node-agent'],
      [ns, 'static-web-node-a', /^static \(mirror\) pod of node node-a/],
      [ns, 'etcd-copy', 'control-plane pod (component=etcd)'],
      [ns, 'host-agent', "hostNetwork pod: network policy cannot isolate it (it uses its node's network)"],
      [ns, 'api-7d9f8c6b5-d4', 'would leave deployment api with 1 ready replica, minimum 2'],
      [ns, 'db-0', 'would leave statefulset db with 0 ready replicas, minimum 2'],
    ];
    for (const [namespace, name, reason] of expected) {
      const before = await readPod(namespace, name);
      const alert = alertAbout({ namespace, name });
      const action = only(await responder.respond(alert));
      assert.equal(action.status, 'skipped', `${name}: ${action.reason}`);
      if (typeof reason === 'string') assert.equal(action.reason, reason);
      else assert.match(action.reason ?? '', reason);
      assert.equal(action.action_id, quarantineId(alert.alert_id, before.metadata!.uid!));
      assert.equal((await readPod(namespace, name)).metadata!.resourceVersion, before.metadata!.resourceVersion, `${name} untouched`);
    }

    const missing = only(await responder.respond(alertAbout({ namespace: ns, name: 'no-such-pod' })));
    assert.deepEqual([missing.status, missing.reason], ['skipped', `no pod ${ns}/no-such-pod`]);
    const nobody = only(await responder.respond(alertAbout({ namespace: ns, ip: nextIp() })));
    assert.equal(nobody.status, 'skipped');
    assert.match(nobody.reason ?? '', /^no pod held /);
  });

  it("refuses, with the reason, a pod in the responder's own namespace", async () => {
    const pod = await makePod(ns, 'self-g7', { labels: { app: 'self' } });
    const refused = only(await responderFor(policyOf('calico'), [ns], { safety: { selfNamespace: ns } }).respond(alertAbout({ namespace: ns, name: 'self-g7' })));
    assert.deepEqual([refused.status, refused.reason], ['skipped', `protected namespace ${ns} (the responder's own)`]);
    assert.equal((await readPod(ns, 'self-g7')).metadata!.resourceVersion, pod.metadata!.resourceVersion);
  });

  it('minimum replicas: a pod already quarantined (labels kept, still Ready) counts as lost', async () => {
    const owner = await makeDeployment(ns, 'front', 2);
    const labels = { app: 'front', 'pod-template-hash': '7d9f8c6b5' };
    await makePod(ns, 'front-7d9f8c6b5-w1', { labels, owner });
    await makePod(ns, 'front-7d9f8c6b5-w2', { labels, owner });
    const responder = responderFor(policyOf('calico'), [ns], { safety: { minHealthyReplicas: 1 } });
    assert.equal(only(await responder.respond(alertAbout({ namespace: ns, name: 'front-7d9f8c6b5-w1' }))).status, 'applied');
    const refused = only(await responder.respond(alertAbout({ namespace: ns, name: 'front-7d9f8c6b5-w2' })));
    assert.deepEqual([refused.status, refused.reason], ['skipped', 'would leave deployment front with 0 ready replicas (1 already quarantined), minimum 1']);
    assert.equal((await readPod(ns, 'front-7d9f8c6b5-w2')).metadata!.labels![QUARANTINE_LABEL], undefined);
  });

  it("by address: refuses a pod of another namespace that now holds the alert's address", async () => {
    const ip = nextIp();
    const ledger = await makePod(otherNs, 'ledger-0', { ip, labels: { app: 'ledger' } });
    const refused = only(await responderFor(policyOf('calico'), [ns, otherNs]).respond(alertAbout({ namespace: ns, ip })));
    assert.equal(refused.status, 'skipped');
    assert.match(refused.reason ?? '', new RegExp(`was held by ${otherNs}/ledger-0, not by the alert's subject ${ns}/web-7d9f8c6b5-\\* \\(deployment/web\\): refused rather than guessed$`));
    assert.equal((await readPod(otherNs, 'ledger-0')).metadata!.resourceVersion, ledger.metadata!.resourceVersion);
  });

  it('a TTL shorter than the breaker window does not weaken the breaker', async () => {
    let clock = Date.now();
    const responder = responderFor(policyOf('calico', ', ttl: 1m'), [shortNs], { now: () => clock, safety: { maxPerWindow: 2, windowMs: 600_000 } });
    for (const name of ['s0', 's1', 's2']) await makePod(shortNs, name);
    for (const name of ['s0', 's1']) {
      assert.equal(only(await responder.respond(alertAbout({ namespace: shortNs, name }))).status, 'applied');
      clock += 61_000;
      assert.equal(only(await responder.releaseExpired()).status, 'expired');
    }
    assert.deepEqual(await responder.list(), []);
    const refused = only(await responder.respond(alertAbout({ namespace: shortNs, name: 's2' })));
    assert.equal(refused.status, 'skipped');
    assert.match(refused.reason ?? '', /^circuit breaker open: 2 quarantines in 10 min \(closes at /);
    assert.equal((await readPod(shortNs, 's2')).metadata!.labels?.[QUARANTINE_LABEL], undefined);
  });

  it('opens the circuit breaker after N quarantines in the window, and a restarted responder keeps it open', async () => {
    const safety = { maxPerWindow: 2, windowMs: 600_000 };
    const responder = responderFor(policyOf('calico'), [breakerNs], { safety });
    const statuses: string[] = [];
    for (const name of ['p0', 'p1', 'p2']) await makePod(breakerNs, name);
    for (const name of ['p0', 'p1', 'p2']) statuses.push(only(await responder.respond(alertAbout({ namespace: breakerNs, name }))).status);
    assert.deepEqual(statuses, ['applied', 'applied', 'skipped']);

    const refused = only(await responderFor(policyOf('calico'), [breakerNs], { safety }).respond(alertAbout({ namespace: breakerNs, name: 'p2' })));
    assert.equal(refused.status, 'skipped');
    assert.match(refused.reason ?? '', /^circuit breaker open: 2 quarantines in 10 min \(closes at /);
    assert.equal((await readPod(breakerNs, 'p2')).metadata!.labels?.[QUARANTINE_LABEL], undefined);
  });

  it('dry run: writes nothing and shows the exact writes', async () => {
    const pod = await makePod(ns, 'dry-e5', { labels: { app: 'dry' } });
    const responder = responderFor(policyOf('calico', ', dryRun: true'), [ns], { policyName: dryPolicyName });
    const alert = alertAbout({ namespace: ns, name: 'dry-e5' });

    const action = only(await responder.respond(alert));
    assert.deepEqual([action.status, action.dry_run], ['requested', true]);
    assert.match(action.reason ?? '', /^dry run \(rule scans\): would apply calico quarantine until .*; nothing written$/);
    const plan = await responder.dryRunPlan(alert);
    const requests = JSON.parse(plan.text) as { method: string; path: string; contentType: string; body: { metadata: { labels: Record<string, string | null> } } }[];
    assert.deepEqual(
      requests.map((request) => [request.method, request.path, request.contentType]),
      [
        ['PATCH', `/apis/crd.projectcalico.org/v1/globalnetworkpolicies/${dryPolicyName}?fieldManager=flowsentry-quarantine&force=true`, 'application/apply-patch+yaml'],
        ['PATCH', `/api/v1/namespaces/${ns}/pods/dry-e5`, 'application/merge-patch+json'],
      ],
    );
    assert.deepEqual(requests[0]!.body, calicoPolicy(dryPolicyName));
    assert.equal(requests[1]!.body.metadata.labels[QUARANTINE_LABEL], action.action_id);

    // A plan asked of a rule that is not a dry run writes nothing either.
    await responderFor(policyOf('networkpolicy'), [ns], { policyName: dryPolicyName }).dryRunPlan(alert);
    assert.equal((await readPod(ns, 'dry-e5')).metadata!.resourceVersion, pod.metadata!.resourceVersion);
    await assert.rejects(objects.getClusterCustomObject({ ...resources.calico, name: dryPolicyName }), (error: { code?: number }) => error.code === 404);
    await assert.rejects(
      objects.getNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespace: ns, name: dryPolicyName }),
      (error: { code?: number }) => error.code === 404,
    );
  });

  it('TTL: releaseExpired lifts a quarantine past its expiry, and only then', async () => {
    let clock = Date.now();
    const responder = responderFor(policyOf('calico', ', ttl: 1m'), [ttlNs], { now: () => clock });
    await makePod(ttlNs, 'short-f6', { labels: { app: 'short' } });
    const action = only(await responder.respond(alertAbout({ namespace: ttlNs, name: 'short-f6' })));
    assert.equal(action.status, 'applied', action.reason ?? '');
    assert.equal(action.expires_at, clock + 60_000);
    assert.deepEqual((await responder.list()).map((q) => [q.id, q.pod, q.backend, q.expiresAt]), [[action.action_id, 'short-f6', 'calico', clock + 60_000]]);

    clock += 59_000;
    assert.deepEqual(await responder.releaseExpired(), []);
    clock += 2_000;
    const expired = only(await responder.releaseExpired());
    assert.deepEqual([expired.kind, expired.status, expired.undoes_action_id, expired.requested_by], ['undo', 'expired', action.action_id, 'flowsentry']);
    assert.equal(expired.reason, `expired at ${new Date(action.expires_at!).toISOString()}`);
    const released = await readPod(ttlNs, 'short-f6');
    assert.deepEqual(released.metadata!.labels, { app: 'short' });
    assert.equal(released.metadata!.annotations![notes.released], action.action_id);
    assert.deepEqual(await responder.releaseExpired(), []);
    assert.deepEqual(await responder.list(), []);
  });

  it('needs no more than the RBAC in README.md, and turns API refusals into failed actions', async (t) => {
    await core.createNamespacedServiceAccount({ namespace: rbacNs, body: { metadata: { name: 'responder' } } });
    const kubeConfig: KubeConfig = await serviceAccountKubeConfig(rbacNs, 'responder');
    const owner = await makeDeployment(rbacNs, 'web', 4);
    const ips = [nextIp(), nextIp(), nextIp()];
    for (const [index, ip] of ips.entries()) await makePod(rbacNs, `web-7d9f8c6b5-r${index}`, { ip, labels: { app: 'web' }, owner });
    const responder = (backend: QuarantineBackend) =>
      new QuarantineResponder({ kubeConfig, policy: policyOf(backend), policyName: rbacPolicyName, safety: { maxPerWindow: 1_000 } });

    const denied = only(await responder('calico').respond(alertAbout({ namespace: rbacNs, ip: ips[0] })));
    assert.equal(denied.status, 'failed');
    assert.match(denied.reason ?? '', /^list pods with address .*: HTTP 403: /);

    await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules: readmeRules } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: roleName }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName }, subjects: [{ kind: 'ServiceAccount', name: 'responder', namespace: rbacNs }] },
    });
    const started = performance.now();
    // The authorizer learns of the binding through its informer: a moment, not a fixed time.
    const backends: QuarantineBackend[] = ['calico', 'adminnetworkpolicy', 'networkpolicy'];
    const applied = await waitFor(
      async () => {
        const action = only(await responder('calico').respond(alertAbout({ namespace: rbacNs, ip: ips[0] })));
        return action.status === 'applied' ? action : undefined;
      },
      { timeoutMs: 15_000, description: 'the binding to take effect' },
    );
    t.diagnostic(`RBAC binding effective after ${(performance.now() - started).toFixed(0)} ms`);
    const actions = [applied];
    for (const [index, backend] of backends.entries()) {
      if (index === 0) continue;
      actions.push(only(await responder(backend).respond(alertAbout({ namespace: rbacNs, ip: ips[index] }))));
    }
    assert.deepEqual(
      actions.map((action) => [action.status, action.target.name]),
      ips.map((_, index) => ['applied', `web-7d9f8c6b5-r${index}`]),
      actions.map((action) => action.reason).join('; '),
    );
    const listed = await responder('calico').list();
    for (const action of actions) assert.ok(listed.some((q) => q.id === action.action_id));
    for (const action of actions) assert.equal(only(await responder('calico').release(action.action_id, 'rbac-test')).status, 'undone');
    for (const [index] of ips.entries()) assert.deepEqual((await readPod(rbacNs, `web-7d9f8c6b5-r${index}`)).metadata!.labels, { app: 'web' });
  });
});
