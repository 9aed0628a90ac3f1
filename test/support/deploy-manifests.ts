/**
 * The manifests of `deploy/` as tests use them: the parsed documents (in the order kustomization.yaml
 * lists the files), server-side apply through API discovery (for real or as a dry run), and the
 * RBAC of `deploy/` installed for real, so a test can act as a component's ServiceAccount with
 * exactly the permissions a deployment gets.
 *
 * Stable API for other tests:
 * - `installDeployRbac()` applies the Namespaces, ServiceAccounts, (Cluster)Roles and
 *   (Cluster)RoleBindings of deploy/ as they are (`flowsentry`, `flowsentry-node`, ClusterRoles
 *   `flowsentry-<component>`). Idempotent (server-side apply), shared by every test file, never
 *   removed: concurrent callers only re-apply the same content.
 * - `installDeployRbac({ isolated: true })` installs a private copy: namespaces and cluster-scoped
 *   names get a random suffix (`flowsentry-3fa2c1`, `flowsentry-node-3fa2c1`,
 *   `flowsentry-respond-3fa2c1`), rules unchanged. For tests that must not share state with other
 *   files, e.g. the inventory publisher's Lease `flowsentry-inventory`, which the Role allows by
 *   that name only. Call `remove()` in `after`.
 * - `componentKubeConfig(component, rbac?)`: a KubeConfig acting as that component's
 *   ServiceAccount (a real TokenRequest token), of the shared install unless `rbac` is given.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthorizationV1Api, type KubeConfig, type V1ResourceAttributes } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { answerMessage, apiRequest, type ManifestObject, objectPath, serverSideApply } from './kubernetes-apply.js';
import { adminKubeConfig, serviceAccountKubeConfig } from './kubernetes.js';
import { waitFor } from './wait.js';

export type { ManifestObject } from './kubernetes-apply.js';

export const deployDir = fileURLToPath(new URL('../../deploy/', import.meta.url));

export const deployComponents = ['collector', 'enrich', 'detect', 'respond', 'sink', 'inventory'] as const;
export type DeployComponent = (typeof deployComponents)[number];

export type DeployManifestErrorCode = 'DEPLOY_BAD_YAML' | 'DEPLOY_BAD_DOCUMENT' | 'DEPLOY_APPLY_REFUSED' | 'DEPLOY_NO_COMPONENT';

export class DeployManifestError extends Error {
  override readonly name = 'DeployManifestError';
  constructor(
    readonly code: DeployManifestErrorCode,
    message: string,
    /** The HTTP status of a refused request. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface DeployDocument {
  /** File name inside deploy/. */
  readonly file: string;
  /** Position of the document in its file, from 0. */
  readonly index: number;
  readonly object: ManifestObject;
}

/** `collector.yaml#3 DaemonSet flowsentry-node/flowsentry-collector`, for messages. */
export function describeDocument(doc: DeployDocument): string {
  const { kind, metadata } = doc.object;
  return `${doc.file}#${doc.index} ${kind} ${metadata.namespace ? `${metadata.namespace}/` : ''}${metadata.name}`;
}

/** The file names kustomization.yaml lists under `resources`. */
export async function kustomizationResources(dir = deployDir): Promise<string[]> {
  const docs = await parseFile(dir, 'kustomization.yaml');
  const resources = (docs[0] as { resources?: unknown } | undefined)?.resources;
  if (!Array.isArray(resources) || !resources.every((entry) => typeof entry === 'string')) {
    throw new DeployManifestError('DEPLOY_BAD_DOCUMENT', 'kustomization.yaml: resources is not a list of file names');
  }
  return resources as string[];
}

/** Every document of every file kustomization.yaml lists, in that order; empty documents are skipped. */
export async function loadDeployManifests(dir = deployDir): Promise<DeployDocument[]> {
  const documents: DeployDocument[] = [];
  for (const file of await kustomizationResources(dir)) {
    const objects = await parseFile(dir, file);
    objects.forEach((object, index) => {
      if (object === null || object === undefined) return;
      const candidate = object as Partial<ManifestObject>;
      if (typeof candidate.apiVersion !== 'string' || typeof candidate.kind !== 'string' || typeof candidate.metadata?.name !== 'string') {
        throw new DeployManifestError('DEPLOY_BAD_DOCUMENT', `${file}#${index}: a manifest needs apiVersion, kind and metadata.name`);
      }
      documents.push({ file, index, object: candidate as ManifestObject });
    });
  }
  return documents;
}

async function parseFile(dir: string, file: string): Promise<unknown[]> {
  const text = await readFile(join(dir, file), 'utf8');
  return parseAllDocuments(text).map((doc, index) => {
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw new DeployManifestError('DEPLOY_BAD_YAML', `${file}#${index}: ${problem.message}`);
    return doc.toJS() as unknown;
  });
}

/**
 * A Pod with a workload's pod template (Deployment, DaemonSet), as its controller would create
 * it. Pod Security admission enforces on pods only; for workloads it just warns, so this is how a
 * test proves the template itself is admitted.
 */
export function podFromTemplate(workload: ManifestObject, name = `${workload.metadata.name}-pod`): ManifestObject {
  const template = (workload['spec'] as { template?: { metadata?: { labels?: Record<string, string> }; spec?: unknown } } | undefined)?.template;
  if (!template?.spec) throw new DeployManifestError('DEPLOY_BAD_DOCUMENT', `${workload.kind} ${workload.metadata.name} has no pod template`);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(workload.metadata.namespace ? { namespace: workload.metadata.namespace } : {}), labels: { ...template.metadata?.labels } },
    spec: structuredClone(template.spec),
  };
}

async function applyOrThrow(config: KubeConfig, object: ManifestObject): Promise<void> {
  const answer = await serverSideApply(config, object);
  if (answer.status >= 300) {
    throw new DeployManifestError('DEPLOY_APPLY_REFUSED', `applying ${object.kind} ${object.metadata.name}: ${answer.status} ${answerMessage(answer)}`, answer.status);
  }
}

/** The user name and groups the API server gives a ServiceAccount token. */
export function serviceAccountUser(namespace: string, serviceAccount: string): { user: string; groups: string[] } {
  return {
    user: `system:serviceaccount:${namespace}:${serviceAccount}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

/** Whether the ServiceAccount may do it, by a SubjectAccessReview made as the admin. */
export async function serviceAccountMay(namespace: string, serviceAccount: string, attributes: V1ResourceAttributes): Promise<boolean> {
  const authorization = adminKubeConfig().makeApiClient(AuthorizationV1Api);
  const review = await authorization.createSubjectAccessReview({ body: { spec: { ...serviceAccountUser(namespace, serviceAccount), resourceAttributes: attributes } } });
  return review.status?.allowed === true;
}

/** The kinds `installDeployRbac` applies, in the order it applies them. */
const rbacKinds = ['Namespace', 'ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'] as const;

export interface DeployRbac {
  /** Suffix of an isolated install; undefined for the shared one. */
  readonly instance: string | undefined;
  /** Every object applied, as applied (renamed for an isolated install). */
  readonly objects: readonly ManifestObject[];
  /** Namespace of a component's ServiceAccount (and its workload). */
  namespaceOf(component: DeployComponent): string;
  /** Its ServiceAccount's name: `flowsentry-<component>`. */
  serviceAccountOf(component: DeployComponent): string;
  /** A client configuration acting as that ServiceAccount. */
  kubeConfig(component: DeployComponent): Promise<KubeConfig>;
  /** Deletes an isolated install (namespaces and cluster-scoped objects); nothing for the shared one. */
  remove(): Promise<void>;
}

let shared: Promise<DeployRbac> | undefined;

/**
 * Applies, for real, the RBAC of deploy/ and what it needs (Namespaces, ServiceAccounts), then
 * waits until the API server's authorizer has seen every binding. Shared and idempotent by
 * default; `isolated` gives a private, renamed copy (see the head of this file).
 */
export function installDeployRbac(options: { isolated?: boolean } = {}): Promise<DeployRbac> {
  if (options.isolated) return install(randomBytes(3).toString('hex'));
  shared ??= install(undefined).catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** A KubeConfig acting as the component's ServiceAccount, of `rbac` or else of the shared install. */
export async function componentKubeConfig(component: DeployComponent, rbac?: DeployRbac): Promise<KubeConfig> {
  return (rbac ?? (await installDeployRbac())).kubeConfig(component);
}

async function install(instance: string | undefined): Promise<DeployRbac> {
  const documents = await loadDeployManifests();
  const namespaces = new Set(documents.filter((doc) => doc.object.kind === 'Namespace').map((doc) => doc.object.metadata.name));
  const objects = documents
    .map((doc) => doc.object)
    .filter((object) => (rbacKinds as readonly string[]).includes(object.kind))
    .map((object) => (instance === undefined ? object : relocated(object, instance, namespaces)));
  const admin = adminKubeConfig();
  for (const kind of rbacKinds) {
    await Promise.all(objects.filter((object) => object.kind === kind).map((object) => applyOrThrow(admin, object)));
  }
  await waitUntilBound(objects);

  const serviceAccountOf = (component: DeployComponent) => `flowsentry-${component}`;
  const namespaceOf = (component: DeployComponent) => {
    const account = objects.find((object) => object.kind === 'ServiceAccount' && object.metadata.name === serviceAccountOf(component));
    if (!account?.metadata.namespace) throw new DeployManifestError('DEPLOY_NO_COMPONENT', `deploy/ has no ServiceAccount ${serviceAccountOf(component)}`);
    return account.metadata.namespace;
  };
  return {
    instance,
    objects,
    namespaceOf,
    serviceAccountOf,
    kubeConfig: (component) => serviceAccountKubeConfig(namespaceOf(component), serviceAccountOf(component)),
    remove: async () => {
      if (instance === undefined) return;
      const scoped = objects.filter((object) => object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding' || object.kind === 'Namespace');
      await Promise.all(scoped.map(async (object) => apiRequest(admin, 'DELETE', await objectPath(admin, object))));
    },
  };
}

/** The object with `-<instance>` after the deploy/ namespaces and the cluster-scoped names it uses. */
function relocated(object: ManifestObject, instance: string, namespaces: ReadonlySet<string>): ManifestObject {
  const copy = structuredClone(object) as ManifestObject & { roleRef?: { kind: string; name: string }; subjects?: { namespace?: string }[] };
  const rename = (name: string) => `${name}-${instance}`;
  if (['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(copy.kind)) copy.metadata.name = rename(copy.metadata.name);
  if (copy.metadata.namespace && namespaces.has(copy.metadata.namespace)) copy.metadata.namespace = rename(copy.metadata.namespace);
  if (copy.roleRef?.kind === 'ClusterRole') copy.roleRef.name = rename(copy.roleRef.name);
  for (const subject of copy.subjects ?? []) {
    if (subject.namespace && namespaces.has(subject.namespace)) subject.namespace = rename(subject.namespace);
  }
  return copy;
}

interface Rule {
  readonly apiGroups?: string[];
  readonly resources?: string[];
  readonly verbs?: string[];
  readonly resourceNames?: string[];
}

/**
 * Waits until each binding's first rule is allowed to each of its ServiceAccounts: the RBAC
 * authorizer reads bindings from a watch cache, so a fresh binding can take a moment to count.
 */
async function waitUntilBound(objects: readonly ManifestObject[]): Promise<void> {
  const checks: Promise<unknown>[] = [];
  for (const binding of objects.filter((object) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding')) {
    const { roleRef, subjects } = binding as unknown as { roleRef: { kind: string; name: string }; subjects?: { kind: string; name: string; namespace?: string }[] };
    const role = objects.find(
      (object) => object.kind === roleRef.kind && object.metadata.name === roleRef.name && (roleRef.kind === 'ClusterRole' || object.metadata.namespace === binding.metadata.namespace),
    );
    const rule = (role as { rules?: Rule[] } | undefined)?.rules?.[0];
    if (!rule) continue;
    const attributes: V1ResourceAttributes = {
      group: rule.apiGroups?.[0] ?? '',
      resource: rule.resources?.[0] ?? '',
      verb: rule.verbs?.[0] ?? '',
      ...(rule.resourceNames?.[0] ? { name: rule.resourceNames[0] } : {}),
      ...(binding.kind === 'RoleBinding' ? { namespace: binding.metadata.namespace! } : {}),
    };
    for (const subject of subjects ?? []) {
      if (subject.kind !== 'ServiceAccount' || !subject.namespace) continue;
      const { namespace, name } = subject;
      checks.push(waitFor(() => serviceAccountMay(namespace, name, attributes), { timeoutMs: 15_000, description: `${binding.kind} ${binding.metadata.name} to take effect for ${namespace}/${name}` }));
    }
  }
  await Promise.all(checks);
}
