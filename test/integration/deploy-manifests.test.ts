import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiException, AuthorizationV1Api, CoordinationV1Api, CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type V1ResourceAttributes } from '@kubernetes/client-node';
import { parseResponsePolicy } from '../../detect/quarantine/index.js';
import { endpointVariables } from '../../runtime/endpoints.js';
import {
  componentKubeConfig,
  deployComponents,
  type DeployComponent,
  deployDir,
  type DeployDocument,
  type DeployRbac,
  describeDocument,
  installDeployRbac,
  kustomizationResources,
  loadDeployManifests,
  type ManifestObject,
  podFromTemplate,
  serviceAccountMay,
} from '../support/deploy-manifests.js';
import { answerMessage, apiRequest, objectPath, serverSideApply } from '../support/kubernetes-apply.js';
import { adminKubeConfig, testNamespace } from '../support/kubernetes.js';

/** `verb group/resource[/subresource] [namespace] [name]`: one request a component may or may not make. */
type Access = string;

/** `get ""/pods kube-system` → SubjectAccessReview attributes; `-` stands for "no namespace" (cluster scope). */
function attributes(access: Access): V1ResourceAttributes {
  const [verb, groupResource, namespace, name] = access.split(' ');
  const [group, resource, subresource] = groupResource!.split('/');
  return {
    verb: verb!,
    group: group === '""' ? '' : group!,
    resource: resource!,
    ...(subresource ? { subresource } : {}),
    ...(namespace && namespace !== '-' ? { namespace } : {}),
    ...(name ? { name } : {}),
  };
}

const every = (verbs: string, resource: string, where: string) => verbs.split(',').map((verb) => `${verb} ${resource} ${where}`);

/** What the brief grants, written out independently of the manifests. `payments` is any namespace. */
const granted: Record<DeployComponent, readonly Access[]> = {
  collector: [...every('get,list,watch', '""/pods', 'payments'), 'list ""/pods -', 'watch ""/pods -'],
  inventory: [
    ...['pods', 'services'].flatMap((resource) => every('get,list,watch', `""/${resource}`, 'payments')),
    ...['pods', 'namespaces', 'nodes', 'services'].flatMap((resource) => every('list,watch', `""/${resource}`, '-')),
    'get ""/namespaces - payments',
    'get ""/nodes - node-a',
    ...every('get,list,watch', 'discovery.k8s.io/endpointslices', 'payments'),
    'list discovery.k8s.io/endpointslices -',
    'get coordination.k8s.io/leases flowsentry flowsentry-inventory',
    'update coordination.k8s.io/leases flowsentry flowsentry-inventory',
    'create coordination.k8s.io/leases flowsentry',
  ],
  respond: [
    ...every('get,list,watch,patch', '""/pods', 'payments'),
    'list ""/pods -',
    ...['replicasets', 'deployments', 'statefulsets'].map((resource) => `get apps/${resource} payments`),
    ...every('get,create,patch', 'crd.projectcalico.org/globalnetworkpolicies', '-'),
    ...every('get,create,patch', 'policy.networking.k8s.io/adminnetworkpolicies', '-'),
    ...every('get,create,patch', 'networking.k8s.io/networkpolicies', 'payments'),
  ],
  enrich: [],
  detect: [],
  sink: [],
};

/** What no component may do: reading secrets, changing workloads or nodes, running code, escalating. */
const deniedToAll: readonly Access[] = [
  'get ""/secrets flowsentry',
  'list ""/secrets -',
  'get ""/secrets kube-system',
  'get ""/configmaps flowsentry',
  'delete ""/pods payments',
  'create ""/pods payments',
  'create ""/pods/exec payments',
  'create ""/pods/eviction payments',
  'patch ""/nodes - node-a',
  'get ""/nodes/proxy - node-a',
  'create ""/serviceaccounts/token kube-system',
  'update coordination.k8s.io/leases kube-system',
  'get coordination.k8s.io/leases default flowsentry-inventory',
  'create coordination.k8s.io/leases default',
  'create rbac.authorization.k8s.io/rolebindings flowsentry',
  'escalate rbac.authorization.k8s.io/clusterroles -',
  'bind rbac.authorization.k8s.io/clusterroles -',
  'impersonate ""/users -',
  'delete networking.k8s.io/networkpolicies payments',
  '* */* -',
];

const deniedTo: Record<DeployComponent, readonly Access[]> = {
  collector: [
    'patch ""/pods payments',
    'update ""/pods payments',
    'create networking.k8s.io/networkpolicies payments',
    'patch networking.k8s.io/networkpolicies payments',
    'create crd.projectcalico.org/globalnetworkpolicies -',
    'create policy.networking.k8s.io/adminnetworkpolicies -',
    'create coordination.k8s.io/leases flowsentry',
    'get ""/namespaces - payments',
  ],
  inventory: [
    'patch ""/pods payments',
    'create discovery.k8s.io/endpointslices payments',
    'get ""/pods/log payments',
    'get coordination.k8s.io/leases flowsentry another-lease',
    'update coordination.k8s.io/leases flowsentry another-lease',
    'list coordination.k8s.io/leases flowsentry',
    'watch coordination.k8s.io/leases flowsentry',
    'delete coordination.k8s.io/leases flowsentry flowsentry-inventory',
    'patch coordination.k8s.io/leases flowsentry flowsentry-inventory',
    'create networking.k8s.io/networkpolicies payments',
  ],
  respond: [
    'update ""/pods payments',
    'patch ""/pods/status payments',
    'patch apps/deployments payments',
    'list apps/replicasets payments',
    'get ""/nodes - node-a',
    'list networking.k8s.io/networkpolicies payments',
    'update networking.k8s.io/networkpolicies payments',
    'delete crd.projectcalico.org/globalnetworkpolicies -',
    'delete policy.networking.k8s.io/adminnetworkpolicies -',
    'create coordination.k8s.io/leases flowsentry',
  ],
  enrich: [],
  detect: [],
  sink: [],
};
for (const component of ['enrich', 'detect', 'sink'] as const) {
  deniedTo[component] = ['get ""/pods payments', 'list ""/pods -', 'watch ""/pods -', 'get ""/namespaces - payments', 'list ""/nodes -', 'get coordination.k8s.io/leases flowsentry flowsentry-inventory'];
}

/** 200 when the call succeeds, else the HTTP status it was refused with. */
function status(call: Promise<unknown>): Promise<number> {
  return call.then(
    () => 200,
    (error: unknown) => {
      if (error instanceof ApiException) return error.code;
      throw error;
    },
  );
}

function workloads(docs: readonly DeployDocument[]): ManifestObject[] {
  return docs.map((doc) => doc.object).filter((object) => object.kind === 'Deployment' || object.kind === 'DaemonSet');
}

function workloadOf(docs: readonly DeployDocument[], component: DeployComponent): ManifestObject {
  const found = workloads(docs).find((object) => object.metadata.labels?.['app.kubernetes.io/component'] === component);
  assert.ok(found, `deploy/ has a workload for ${component}`);
  return found;
}

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}

interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
}

const podSpecOf = (workload: ManifestObject) => (workload['spec'] as { template: { spec: PodSpec } }).template.spec;

function withPodSpec(pod: ManifestObject, change: (spec: PodSpec) => void): ManifestObject {
  const copy = structuredClone(pod);
  change(copy['spec'] as PodSpec);
  return copy;
}

const ruleKey = (rule: { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] }) =>
  (rule.apiGroups ?? []).flatMap((group) =>
    (rule.resources ?? []).flatMap((resource) => (rule.verbs ?? []).map((verb) => `${group || 'core'}/${resource} ${verb}${rule.resourceNames ? ` [${rule.resourceNames.join(',')}]` : ''}`)),
  );

describe('Deploy > manifests', () => {
  let docs: DeployDocument[];
  const admin = adminKubeConfig();

  before(async () => {
    docs = await loadDeployManifests();
    // Namespaces (and the ServiceAccounts pods name) must exist for real before anything
    // namespaced can be dry-run in them.
    await installDeployRbac();
  });

  it('kustomization.yaml lists every manifest file of deploy/ and nothing else; every component has a ServiceAccount and a workload', async () => {
    const files = (await readdir(deployDir)).filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml').sort();
    assert.deepEqual([...(await kustomizationResources())].sort(), files);
    for (const component of deployComponents) {
      const workload = workloadOf(docs, component);
      assert.equal(podSpecOf(workload).serviceAccountName, `flowsentry-${component}`);
      assert.ok(docs.some(({ object }) => object.kind === 'ServiceAccount' && object.metadata.name === `flowsentry-${component}` && object.metadata.namespace === workload.metadata.namespace));
    }
    assert.equal(workloadOf(docs, 'collector').kind, 'DaemonSet');
    assert.ok(!docs.some(({ object }) => object.kind === 'Secret'), 'credentials are referenced, never shipped');
  });

  it('every document passes a server-side apply dry run (strict field validation) without a warning', async (t) => {
    const started = Date.now();
    const answers = await Promise.all(docs.map(async (doc) => ({ doc, answer: await serverSideApply(admin, doc.object, { dryRun: true }) })));
    for (const { doc, answer } of answers) {
      assert.ok(answer.status === 200 || answer.status === 201, `${describeDocument(doc)}: ${answer.status} ${answerMessage(answer)}`);
      assert.deepEqual(answer.warnings, [], describeDocument(doc));
    }
    t.diagnostic(`${docs.length} documents dry-run in ${Date.now() - started} ms`);
  });

  it('a misspelt field is refused by the same dry run, so an accepted document has no unknown field', async () => {
    const enrich = workloadOf(docs, 'enrich');
    const typo = structuredClone(enrich) as ManifestObject & { spec: { replica?: number } };
    typo.spec.replica = 2;
    const answer = await serverSideApply(admin, typo, { dryRun: true });
    // Server-side apply cannot build its typed patch from it: refused whatever fieldValidation says.
    assert.ok(answer.status >= 400, `${answer.status} ${answerMessage(answer)}`);
    assert.match(answerMessage(answer), /\.spec\.replica: field not declared in schema|unknown field "spec\.replica"/);
  });

  it("every workload's pod passes Pod Security admission of its namespace (restricted for the workers, privileged for the collector)", async () => {
    const namespaces = new Map(docs.filter(({ object }) => object.kind === 'Namespace').map(({ object }) => [object.metadata.name, object.metadata.labels ?? {}]));
    assert.equal(namespaces.get('flowsentry')?.['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(namespaces.get('flowsentry-node')?.['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const workload of workloads(docs)) {
      const expected = workload.kind === 'DaemonSet' ? 'flowsentry-node' : 'flowsentry';
      assert.equal(workload.metadata.namespace, expected, `${workload.metadata.name} runs in ${expected}`);
      const answer = await serverSideApply(admin, podFromTemplate(workload), { dryRun: true });
      assert.equal(answer.status, 201, `${workload.metadata.name}: ${answerMessage(answer)}`);
      assert.deepEqual(answer.warnings, []);
    }
  });

  it("refuses a pod that breaks the namespace's profile: the collector's pod in flowsentry, a worker that may escalate", async () => {
    const collector = podFromTemplate(workloadOf(docs, 'collector'));
    // The same pod in the workers' namespace, under a ServiceAccount that exists there, so only
    // Pod Security can refuse it.
    const moved = withPodSpec({ ...collector, metadata: { ...collector.metadata, namespace: 'flowsentry' } }, (spec) => {
      spec.serviceAccountName = 'flowsentry-inventory';
    });
    const refused = await serverSideApply(admin, moved, { dryRun: true });
    assert.equal(refused.status, 403, answerMessage(refused));
    assert.match(answerMessage(refused), /violates PodSecurity "restricted:latest"/);
    for (const reason of ['hostNetwork', 'NET_ADMIN', 'runAsNonRoot']) assert.match(answerMessage(refused), new RegExp(reason));

    const escalating = withPodSpec(podFromTemplate(workloadOf(docs, 'enrich')), (spec) => {
      spec.containers[0]!.securityContext!.allowPrivilegeEscalation = true;
    });
    const refusedWorker = await serverSideApply(admin, escalating, { dryRun: true });
    assert.equal(refusedWorker.status, 403, answerMessage(refusedWorker));
    assert.match(answerMessage(refusedWorker), /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
  });

  it('only warns about a Deployment whose template breaks the profile, which is why the pods themselves are checked', async () => {
    const enrich = structuredClone(workloadOf(docs, 'enrich'));
    podSpecOf(enrich).containers[0]!.securityContext!.allowPrivilegeEscalation = true;
    const answer = await serverSideApply(admin, enrich, { dryRun: true });
    assert.equal(answer.status, 201, answerMessage(answer));
    assert.ok(
      answer.warnings.some((warning) => warning.includes('would violate PodSecurity "restricted:latest"')),
      answer.warnings.join('\n'),
    );
  });

  it('the collector: every node, host network, NODE_NAME, NET_ADMIN and nothing else, read-only, no escalation', () => {
    const collector = workloadOf(docs, 'collector');
    const spec = podSpecOf(collector);
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.ok(spec.tolerations?.some((toleration) => toleration.operator === 'Exists' && !toleration.key && !toleration.effect), 'tolerates every taint');
    assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(spec.automountServiceAccountToken, true);
    const [container] = spec.containers;
    assert.deepEqual(container!.args?.slice(0, 6), ['collect', '--source', 'conntrack', '--cut-quarantined', '--node', '$(NODE_NAME)']);
    assert.equal(container!.env?.find((variable) => variable.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    assert.deepEqual(container!.securityContext, {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] },
    });
  });

  it('every workload: probes on /healthz and /readyz at port metrics (9464), requests and limits, a token only where the API is called', () => {
    for (const component of deployComponents) {
      const workload = workloadOf(docs, component);
      const spec = podSpecOf(workload);
      if (workload.kind === 'Deployment') assert.equal((workload['spec'] as { replicas?: number }).replicas, 2, component);
      assert.equal(spec.automountServiceAccountToken, ['collector', 'respond', 'inventory'].includes(component), `${component}: automountServiceAccountToken`);
      for (const container of spec.containers) {
        assert.deepEqual(container.ports?.find((port) => port.name === 'metrics')?.containerPort, 9464, component);
        assert.deepEqual(container.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' }, component);
        assert.deepEqual(container.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' }, component);
        for (const amount of ['cpu', 'memory']) {
          assert.ok(container.resources?.requests?.[amount] && container.resources.limits?.[amount], `${component}: ${amount} request and limit`);
        }
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, component);
      }
    }
  });

  it('settings: the same ConfigMap in both namespaces, with variables the pipeline reads; every referenced Secret is documented', async () => {
    const settings = docs.filter(({ object }) => object.kind === 'ConfigMap' && object.metadata.name === 'flowsentry-settings').map(({ object }) => object);
    assert.deepEqual(settings.map((object) => object.metadata.namespace).sort(), ['flowsentry', 'flowsentry-node']);
    assert.deepEqual(settings[0]!['data'], settings[1]!['data']);
    for (const key of Object.keys(settings[0]!['data'] as object)) assert.ok(key in endpointVariables, `${key} is read by runtime/endpoints.ts`);

    const readme = await readFile(join(deployDir, 'README.md'), 'utf8');
    const secrets = workloads(docs).flatMap((workload) => {
      const spec = podSpecOf(workload);
      return [
        ...(spec.volumes ?? []).flatMap((volume) => (volume.secret ? [volume.secret.secretName] : [])),
        ...spec.containers.flatMap((container) => (container.env ?? []).flatMap((variable) => (variable.valueFrom?.secretKeyRef ? [variable.valueFrom.secretKeyRef.name] : []))),
      ];
    });
    assert.deepEqual([...new Set(secrets)].sort(), ['flowsentry-notify', 'flowsentry-opensearch']);
    for (const secret of secrets) assert.match(readme, new RegExp(`create secret generic ${secret}\\b`), `deploy/README.md tells how to create ${secret}`);
  });

  it('respond reads the shipped response policy, which parses and only plans (dry run) until changed', () => {
    const [policyMap] = docs.filter(({ object }) => object.kind === 'ConfigMap' && object.metadata.name === 'flowsentry-response-policy').map(({ object }) => object);
    const text = (policyMap?.['data'] as Record<string, string> | undefined)?.['policy.yaml'];
    assert.ok(text, 'deploy/respond.yaml ships flowsentry-response-policy with policy.yaml');
    const policy = parseResponsePolicy(text, 'flowsentry-response-policy');
    assert.ok(policy.rules.length > 0);
    assert.ok(policy.rules.every((rule) => rule.dryRun), 'every shipped rule is a dry run');
    const respond = workloads(docs).find((workload) => workload.metadata.name === 'flowsentry-respond')!;
    const args = podSpecOf(respond).containers[0]!.args ?? [];
    assert.equal(args[args.indexOf('--quarantine') + 1], '/etc/flowsentry/response/policy.yaml');
  });

  it('the roles grant exactly the listed rules, and only respond, inventory and the collector are bound to any', () => {
    const rulesOf = (kind: string, name: string) => {
      const role = docs.find(({ object }) => object.kind === kind && object.metadata.name === name);
      assert.ok(role, `${kind} ${name}`);
      return (role.object['rules'] as Parameters<typeof ruleKey>[0][]).flatMap(ruleKey).sort();
    };
    const expand = (groupResources: string[], verbs: string[], names?: string) => groupResources.flatMap((resource) => verbs.map((verb) => `${resource} ${verb}${names ? ` [${names}]` : ''}`));
    const read = ['get', 'list', 'watch'];
    assert.deepEqual(rulesOf('ClusterRole', 'flowsentry-collector'), expand(['core/pods'], read).sort());
    assert.deepEqual(
      rulesOf('ClusterRole', 'flowsentry-inventory'),
      expand(['core/pods', 'core/namespaces', 'core/nodes', 'core/services', 'discovery.k8s.io/endpointslices'], read).sort(),
    );
    assert.deepEqual(
      rulesOf('Role', 'flowsentry-inventory-lease'),
      [...expand(['coordination.k8s.io/leases'], ['get', 'update'], 'flowsentry-inventory'), 'coordination.k8s.io/leases create'].sort(),
    );
    const inventoryArgs = podSpecOf(workloadOf(docs, 'inventory')).containers[0]!.args ?? [];
    assert.equal(inventoryArgs[inventoryArgs.indexOf('--lease-name') + 1], 'flowsentry-inventory', 'the publisher uses the Lease its Role names');
    assert.deepEqual(
      rulesOf('ClusterRole', 'flowsentry-respond'),
      [
        ...expand(['core/pods'], [...read, 'patch']),
        ...expand(['apps/replicasets', 'apps/deployments', 'apps/statefulsets'], ['get']),
        ...expand(['crd.projectcalico.org/globalnetworkpolicies', 'policy.networking.k8s.io/adminnetworkpolicies', 'networking.k8s.io/networkpolicies'], ['get', 'create', 'patch']),
      ].sort(),
    );
    const bound = docs
      .filter(({ object }) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding')
      .flatMap(({ object }) => (object['subjects'] as { name: string }[]).map((subject) => subject.name));
    assert.deepEqual([...new Set(bound)].sort(), ['flowsentry-collector', 'flowsentry-inventory', 'flowsentry-respond']);
  });
});

describe('Deploy > RBAC > access reviews', () => {
  let rbac: DeployRbac;
  before(async () => {
    rbac = await installDeployRbac();
  });

  for (const component of deployComponents) {
    it(`${component}: everything listed is allowed, nothing else it was checked for`, async () => {
      const namespace = rbac.namespaceOf(component);
      const account = rbac.serviceAccountOf(component);
      const check = async (access: Access) => ({ access, allowed: await serviceAccountMay(namespace, account, attributes(access)) });
      const allowed = await Promise.all(granted[component].map(check));
      const denied = await Promise.all([...deniedToAll, ...deniedTo[component]].map(check));
      assert.deepEqual(allowed.filter((result) => !result.allowed).map((result) => result.access), [], `${component} lacks`);
      assert.deepEqual(denied.filter((result) => result.allowed).map((result) => result.access), [], `${component} may also`);
    });
  }
});

describe('Deploy > RBAC > calls with component tokens', () => {
  let scratch: { name: string; remove: () => Promise<void> };
  const admin = adminKubeConfig();

  before(async () => {
    scratch = await testNamespace('deploy-rbac');
    await admin.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: scratch.name,
      body: { metadata: { name: 'target', labels: { app: 'target' } }, spec: { containers: [{ name: 'main', image: 'example/main:1' }] } },
    });
  });
  after(() => scratch?.remove());

  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  it('inventory lists pods in every namespace and cannot read a secret', async () => {
    const core = (await componentKubeConfig('inventory')).makeApiClient(CoreV1Api);
    const pods = await core.listPodForAllNamespaces({ labelSelector: 'app=target' });
    assert.ok(pods.items.some((pod) => pod.metadata?.namespace === scratch.name));
    assert.equal(await status(core.listNamespacedSecret({ namespace: 'flowsentry' })), 403);
  });

  it('the collector lists pods but cannot patch one', async () => {
    const core = (await componentKubeConfig('collector')).makeApiClient(CoreV1Api);
    assert.equal((await core.listNamespacedPod({ namespace: scratch.name })).items.length, 1);
    const patch = core.patchNamespacedPod({ name: 'target', namespace: scratch.name, body: { metadata: { labels: { 'quarantine.flowsentry.io/id': 'q-1' } } } }, mergePatch);
    assert.equal(await status(patch), 403);
  });

  it('respond marks a pod and creates a NetworkPolicy, but cannot delete either', async () => {
    const config = await componentKubeConfig('respond');
    const core = config.makeApiClient(CoreV1Api);
    const networking = config.makeApiClient(NetworkingV1Api);
    await core.patchNamespacedPod({ name: 'target', namespace: scratch.name, body: { metadata: { labels: { 'quarantine.flowsentry.io/id': 'q-1' } } } }, mergePatch);
    const marked = await admin.makeApiClient(CoreV1Api).readNamespacedPod({ name: 'target', namespace: scratch.name });
    assert.equal(marked.metadata?.labels?.['quarantine.flowsentry.io/id'], 'q-1');
    const policy = { metadata: { name: 'flowsentry-quarantine-q-1' }, spec: { podSelector: { matchLabels: { 'quarantine.flowsentry.io/id': 'q-1' } }, policyTypes: ['Ingress', 'Egress'] } };
    await networking.createNamespacedNetworkPolicy({ namespace: scratch.name, body: policy });
    assert.equal(await status(networking.deleteNamespacedNetworkPolicy({ name: 'flowsentry-quarantine-q-1', namespace: scratch.name })), 403);
    assert.equal(await status(core.deleteNamespacedPod({ name: 'target', namespace: scratch.name })), 403);
    const self = await config.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb: 'patch', resource: 'pods', namespace: scratch.name } } },
    });
    assert.equal(self.status?.allowed, true, 'its own token says so too');
  });

  it('enrich, detect and sink cannot even list pods', async () => {
    for (const component of ['enrich', 'detect', 'sink'] as const) {
      const core = (await componentKubeConfig(component)).makeApiClient(CoreV1Api);
      assert.equal(await status(core.listNamespacedPod({ namespace: scratch.name })), 403, component);
    }
  });
});

describe('Deploy > RBAC > isolated install', () => {
  let rbac: DeployRbac;
  before(async () => {
    rbac = await installDeployRbac({ isolated: true });
  });
  after(() => rbac?.remove());

  it('renames namespaces and cluster-scoped objects, keeps Pod Security labels and rules', async () => {
    const suffix = `-${rbac.instance}`;
    assert.equal(rbac.namespaceOf('inventory'), `flowsentry${suffix}`);
    assert.equal(rbac.namespaceOf('collector'), `flowsentry-node${suffix}`);
    const namespace = await adminKubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: `flowsentry${suffix}` });
    assert.equal(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.ok(await serviceAccountMay(rbac.namespaceOf('collector'), 'flowsentry-collector', attributes('list ""/pods -')));
  });

  it('inventory holds its Lease by name in its own namespace only; create is open to any name, as RBAC cannot restrict it', async () => {
    const namespace = rbac.namespaceOf('inventory');
    const coordination = (await rbac.kubeConfig('inventory')).makeApiClient(CoordinationV1Api);
    const lease = (name: string) => ({ metadata: { name }, spec: { holderIdentity: 'inventory-0', leaseDurationSeconds: 15 } });
    const created = await coordination.createNamespacedLease({ namespace, body: lease('flowsentry-inventory') });
    // An update (a takeover); the client cannot write renewTime (a MicroTime) in the server's format.
    const renewed = await coordination.replaceNamespacedLease({
      name: 'flowsentry-inventory',
      namespace,
      body: { metadata: { name: 'flowsentry-inventory', resourceVersion: created.metadata!.resourceVersion! }, spec: { holderIdentity: 'inventory-1', leaseDurationSeconds: 15 } },
    });
    assert.equal(renewed.spec?.holderIdentity, 'inventory-1');
    assert.equal((await coordination.readNamespacedLease({ name: 'flowsentry-inventory', namespace })).metadata?.name, 'flowsentry-inventory');

    assert.equal(await status(coordination.createNamespacedLease({ namespace: 'flowsentry', body: lease('flowsentry-inventory') })), 403, 'another namespace');
    assert.equal(await status(coordination.readNamespacedLease({ name: 'flowsentry-inventory', namespace: 'kube-system' })), 403);
    await coordination.createNamespacedLease({ namespace, body: lease('another-lease') });
    assert.equal(await status(coordination.readNamespacedLease({ name: 'another-lease', namespace })), 403, 'created, yet not readable');
    assert.equal(await status(coordination.deleteNamespacedLease({ name: 'flowsentry-inventory', namespace })), 403);
  });

  it('remove() deletes the cluster-scoped objects and the namespaces', async () => {
    const isolated = await installDeployRbac({ isolated: true });
    await isolated.remove();
    const admin = adminKubeConfig();
    for (const object of isolated.objects.filter((candidate) => candidate.kind === 'ClusterRole' || candidate.kind === 'ClusterRoleBinding')) {
      assert.equal((await apiRequest(admin, 'GET', await objectPath(admin, object))).status, 404, object.metadata.name);
    }
    const namespace = await admin.makeApiClient(CoreV1Api).readNamespace({ name: isolated.namespaceOf('inventory') });
    // No namespace controller runs in the test cluster: deletion starts and never finishes.
    assert.ok(namespace.metadata?.deletionTimestamp, 'namespace is being deleted');
  });
});
