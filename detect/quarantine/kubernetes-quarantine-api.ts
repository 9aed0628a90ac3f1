/**
 * The quarantine responder's only door to the Kubernetes API. It makes exactly these calls, which
 * the RBAC in README.md grants and nothing more: pods get/list/patch; replicasets, deployments,
 * statefulsets get; the three policy kinds by server-side apply (a PATCH that may create).
 * Every failure becomes a QuarantineApiError naming the call.
 */
import { ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { podFactsOf, type PodFacts } from './pod-facts.js';
import type { PodMergePatch } from './pod-patches.js';
import { QuarantineApiError } from './quarantine-errors.js';
import { QUARANTINE_FIELD_MANAGER, QUARANTINE_LABEL } from './quarantine-names.js';
import type { QuarantineWrite } from './quarantine-writes.js';

export { podFactsOf } from './pod-facts.js';

/** What an owner's status says about its ready replicas, and who owns it in turn. */
export interface OwnerStatus {
  readonly readyReplicas: number;
  readonly owner?: { readonly kind: string; readonly name: string };
}

/** The calls the responder needs; the Kubernetes adapter below is the one implementation. */
export interface QuarantineCluster {
  readPod(namespace: string, name: string): Promise<PodFacts | undefined>;
  /** Pods whose primary address is `ip` (terminated ones included: the caller decides). */
  podsWithAddress(ip: string, namespaces?: readonly string[]): Promise<PodFacts[]>;
  /** Pods carrying the quarantine label, or the label with one value. */
  quarantinedPods(namespaces?: readonly string[], id?: string): Promise<PodFacts[]>;
  readOwner(kind: 'ReplicaSet' | 'Deployment' | 'StatefulSet', namespace: string, name: string): Promise<OwnerStatus | undefined>;
  /** Carries out one write; a pod patch answers the pod as it now is. */
  write(write: QuarantineWrite): Promise<PodFacts | undefined>;
}

function detailOf(error: unknown): { status: number | undefined; detail: string } {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    let detail: string = typeof body === 'string' ? body : body === undefined ? error.message : JSON.stringify(body);
    try {
      const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: unknown }) : (body as { message?: unknown } | undefined);
      if (typeof parsed?.message === 'string') detail = parsed.message;
    } catch {
      // Not JSON: the text as it came.
    }
    return { status: error.code, detail: detail.slice(0, 500) };
  }
  return { status: undefined, detail: error instanceof Error ? error.message : String(error) };
}

async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const { status, detail } = detailOf(error);
    throw new QuarantineApiError(operation, status, detail);
  }
}

/** A 404 as undefined: the object is not there. */
async function readOrUndefined<T>(operation: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call(operation, run);
  } catch (error) {
    if (error instanceof QuarantineApiError && error.notFound) return undefined;
    throw error;
  }
}


const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const serverSideApply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

export class KubernetesQuarantineApi implements QuarantineCluster {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly objects: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.objects = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async readPod(namespace: string, name: string): Promise<PodFacts | undefined> {
    const pod = await readOrUndefined(`get pod ${namespace}/${name}`, () => this.core.readNamespacedPod({ namespace, name }));
    return pod && podFactsOf(pod);
  }

  podsWithAddress(ip: string, namespaces?: readonly string[]): Promise<PodFacts[]> {
    return this.listPods(`list pods with address ${ip}`, { fieldSelector: `status.podIP=${ip}` }, namespaces);
  }

  quarantinedPods(namespaces?: readonly string[], id?: string): Promise<PodFacts[]> {
    const labelSelector = id === undefined ? QUARANTINE_LABEL : `${QUARANTINE_LABEL}=${id}`;
    return this.listPods('list quarantined pods', { labelSelector }, namespaces);
  }

  async readOwner(kind: 'ReplicaSet' | 'Deployment' | 'StatefulSet', namespace: string, name: string): Promise<OwnerStatus | undefined> {
    const operation = `get ${kind.toLowerCase()} ${namespace}/${name}`;
    const object =
      kind === 'ReplicaSet'
        ? await readOrUndefined(operation, () => this.apps.readNamespacedReplicaSet({ namespace, name }))
        : kind === 'Deployment'
          ? await readOrUndefined(operation, () => this.apps.readNamespacedDeployment({ namespace, name }))
          : await readOrUndefined(operation, () => this.apps.readNamespacedStatefulSet({ namespace, name }));
    if (!object) return undefined;
    const owners = object.metadata?.ownerReferences ?? [];
    const owner = owners.find((reference) => reference.controller);
    return { readyReplicas: object.status?.readyReplicas ?? 0, ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}) };
  }

  async write(write: QuarantineWrite): Promise<PodFacts | undefined> {
    if (write.kind === 'patch-pod') {
      const { namespace, name, patch } = write;
      const pod = await call(`patch pod ${namespace}/${name}`, () => this.core.patchNamespacedPod({ namespace, name, body: patch satisfies PodMergePatch }, mergePatch));
      return podFactsOf(pod);
    }
    const { group, version, plural, namespaced } = write.resource;
    const { name, namespace } = write.object.metadata;
    const common = { group, version, plural, name, body: write.object, fieldManager: QUARANTINE_FIELD_MANAGER, force: true };
    const what = `${write.object.kind} ${namespaced ? `${namespace}/` : ''}${name}`;
    await call(`apply ${what}`, () =>
      namespaced ? this.objects.patchNamespacedCustomObject({ ...common, namespace: namespace ?? '' }, serverSideApply) : this.objects.patchClusterCustomObject(common, serverSideApply),
    );
    return undefined;
  }

  private async listPods(operation: string, selectors: { fieldSelector?: string; labelSelector?: string }, namespaces?: readonly string[]): Promise<PodFacts[]> {
    if (namespaces === undefined) {
      const list = await call(operation, () => this.core.listPodForAllNamespaces(selectors));
      return list.items.map(podFactsOf);
    }
    const lists = await Promise.all(namespaces.map((namespace) => call(`${operation} in ${namespace}`, () => this.core.listNamespacedPod({ namespace, ...selectors }))));
    return lists.flatMap((list) => list.items.map(podFactsOf));
  }
}
