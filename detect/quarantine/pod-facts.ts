/**
 * A pod as the quarantine decisions see it: plain facts, read from the API by the adapter, so
 * subject choice, safety and patch building stay pure and are tested without a cluster.
 */
import type { V1Pod } from '@kubernetes/client-node';

export interface PodOwner {
  readonly kind: string;
  readonly name: string;
}

export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** For the precondition of every patch: a pod that changed since it was read is read again. */
  readonly resourceVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The controlling owner (or the first owner when none controls). */
  readonly owner?: PodOwner;
  readonly nodeName?: string;
  readonly hostNetwork: boolean;
  readonly phase?: string;
  /** creationTimestamp, epoch milliseconds. */
  readonly createdAt?: number;
  /** Has a deletionTimestamp. */
  readonly deleting: boolean;
  readonly ip?: string;
}

/** Succeeded or Failed: the pod's containers will not run again (its IP may already be reused). */
export const isTerminated = (pod: PodFacts): boolean => pod.phase === 'Succeeded' || pod.phase === 'Failed';

export const podRef = (pod: Pick<PodFacts, 'namespace' | 'name'>): string => `${pod.namespace}/${pod.name}`;

/** The facts of a pod object as the API returns it. */
export function podFactsOf(pod: V1Pod): PodFacts {
  const metadata = pod.metadata ?? {};
  const owners = metadata.ownerReferences ?? [];
  const owner = owners.find((reference) => reference.controller) ?? owners[0];
  const created = metadata.creationTimestamp === undefined ? undefined : new Date(metadata.creationTimestamp).getTime();
  return {
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    uid: metadata.uid ?? '',
    resourceVersion: metadata.resourceVersion ?? '',
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    hostNetwork: pod.spec?.hostNetwork === true,
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
    ...(created !== undefined && Number.isFinite(created) ? { createdAt: created } : {}),
    deleting: metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null,
    ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
  };
}
