import { KubeConfig } from '@kubernetes/client-node';
import type { OwnerStatus, QuarantineCluster } from '../../../../detect/quarantine/kubernetes-quarantine-api.js';
import type { PodFacts } from '../../../../detect/quarantine/pod-facts.js';
import type { PodMergePatch } from '../../../../detect/quarantine/pod-patches.js';
import { QuarantineApiError } from '../../../../detect/quarantine/quarantine-errors.js';
import { QUARANTINE_LABEL } from '../../../../detect/quarantine/quarantine-names.js';
import type { QuarantineWrite } from '../../../../detect/quarantine/quarantine-writes.js';

type Json = Record<string, unknown>;

/** RFC 7386 JSON merge patch, as the API server applies it. */
export function merge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Json = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [key, value] of Object.entries(patch as Json)) {
    if (value === null) delete result[key];
    else result[key] = merge(result[key], value);
  }
  return result;
}

/** The call names the fake answers, for `failWith`. */
export type CallName = 'readPod' | 'podsWithAddress' | 'quarantinedPods' | 'readOwner' | 'patch-pod' | 'apply-policy';

type OwnerKind = 'ReplicaSet' | 'Deployment' | 'StatefulSet';

/**
 * An in-memory API server for the responder: pods with resourceVersion preconditions, owners'
 * ready replicas, the policy objects applied, and failures on demand (an HTTP status, or
 * undefined for no answer at all).
 */
export class FakeCluster implements QuarantineCluster {
  readonly pods = new Map<string, PodFacts>();
  readonly owners = new Map<string, OwnerStatus>();
  readonly applied: QuarantineWrite[] = [];
  readonly calls: CallName[] = [];
  private version = 1000;
  private failures = new Map<CallName, { status: number | undefined; times: number }>();

  addPod(pod: PodFacts): PodFacts {
    const stored = { ...pod, resourceVersion: String(++this.version) };
    this.pods.set(`${pod.namespace}/${pod.name}`, stored);
    return stored;
  }

  deletePod(namespace: string, name: string): void {
    this.pods.delete(`${namespace}/${name}`);
  }

  pod(namespace: string, name: string): PodFacts {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no pod ${namespace}/${name} in the fake`);
    return pod;
  }

  setOwner(kind: OwnerKind, namespace: string, name: string, status: OwnerStatus): void {
    this.owners.set(`${kind}/${namespace}/${name}`, status);
  }

  /** The next `times` calls of `call` fail with `status` (undefined: no answer). */
  failWith(call: CallName, status: number | undefined, times = Number.POSITIVE_INFINITY): void {
    this.failures.set(call, { status, times });
  }

  heal(): void {
    this.failures.clear();
  }

  private enter(call: CallName, operation: string): void {
    this.calls.push(call);
    const failure = this.failures.get(call);
    if (!failure || failure.times <= 0) return;
    failure.times--;
    throw new QuarantineApiError(operation, failure.status, failure.status === undefined ? 'connect ECONNREFUSED 127.0.0.1:6443' : `answer ${failure.status}`);
  }

  private inScope(pod: PodFacts, namespaces?: readonly string[]): boolean {
    return namespaces === undefined || namespaces.includes(pod.namespace);
  }

  async readPod(namespace: string, name: string): Promise<PodFacts | undefined> {
    this.enter('readPod', `get pod ${namespace}/${name}`);
    return this.pods.get(`${namespace}/${name}`);
  }

  async podsWithAddress(ip: string, namespaces?: readonly string[]): Promise<PodFacts[]> {
    this.enter('podsWithAddress', `list pods with address ${ip}`);
    return [...this.pods.values()].filter((pod) => pod.ip === ip && this.inScope(pod, namespaces));
  }

  async quarantinedPods(namespaces?: readonly string[], id?: string): Promise<PodFacts[]> {
    this.enter('quarantinedPods', 'list quarantined pods');
    return [...this.pods.values()].filter((pod) => {
      const value = pod.labels[QUARANTINE_LABEL];
      return value !== undefined && (id === undefined || value === id) && this.inScope(pod, namespaces);
    });
  }

  async readOwner(kind: OwnerKind, namespace: string, name: string): Promise<OwnerStatus | undefined> {
    this.enter('readOwner', `get ${kind.toLowerCase()} ${namespace}/${name}`);
    return this.owners.get(`${kind}/${namespace}/${name}`);
  }

  async write(write: QuarantineWrite): Promise<PodFacts | undefined> {
    if (write.kind !== 'patch-pod') {
      this.enter('apply-policy', `apply ${write.object.kind} ${write.object.metadata.name}`);
      this.applied.push(write);
      return undefined;
    }
    const { namespace, name, patch } = write;
    this.enter('patch-pod', `patch pod ${namespace}/${name}`);
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new QuarantineApiError(`patch pod ${namespace}/${name}`, 404, 'not found');
    if (patch.metadata.resourceVersion !== pod.resourceVersion) throw new QuarantineApiError(`patch pod ${namespace}/${name}`, 409, 'the object has been modified');
    const changed = patched(pod, patch);
    return this.addPod(changed);
  }
}

function patched(pod: PodFacts, patch: PodMergePatch): PodFacts {
  const change = { labels: patch.metadata.labels, annotations: patch.metadata.annotations };
  const metadata = merge({ labels: pod.labels, annotations: pod.annotations }, change) as { labels?: Record<string, string>; annotations?: Record<string, string> };
  return { ...pod, labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} };
}

/** The responder needs a KubeConfig by type; with a `cluster` it never uses it. */
export const unusedKubeConfig = new KubeConfig();
