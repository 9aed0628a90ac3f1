/**
 * A read-only QuarantineCluster over a fixed inventory of pods (the demo cluster of
 * `flowsentry run`): the responder reads pods and owners from it exactly as from the API
 * server, so a dry-run rule plans the very requests it would send. It cannot write: a rule that
 * is not a dry run fails its action with a QuarantineApiError naming why.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { OwnerStatus, QuarantineCluster } from './kubernetes-quarantine-api.js';
import { podFactsOf, type PodFacts } from './pod-facts.js';
import { QuarantineApiError } from './quarantine-errors.js';
import { QUARANTINE_LABEL } from './quarantine-names.js';
import type { QuarantineWrite } from './quarantine-writes.js';

const isReady = (pod: PodFacts) => pod.phase === 'Running' && !pod.deleting;

/** `web-7d9f8c6b5` → `web`: the Deployment a ReplicaSet named by the pod-template-hash belongs to. */
const deploymentOf = (replicaSet: string, pods: readonly PodFacts[]) => {
  const hash = pods.find((pod) => pod.owner?.name === replicaSet)?.labels['pod-template-hash'];
  return hash && replicaSet.endsWith(`-${hash}`) ? replicaSet.slice(0, -hash.length - 1) : undefined;
};

export class InventoryQuarantineCluster implements QuarantineCluster {
  private readonly pods: readonly PodFacts[];

  constructor(pods: readonly unknown[]) {
    this.pods = pods.map((pod) => podFactsOf(pod as V1Pod));
  }

  async readPod(namespace: string, name: string): Promise<PodFacts | undefined> {
    return this.pods.find((pod) => pod.namespace === namespace && pod.name === name);
  }

  async podsWithAddress(ip: string, namespaces?: readonly string[]): Promise<PodFacts[]> {
    return this.pods.filter((pod) => pod.ip === ip && (!namespaces || namespaces.includes(pod.namespace)));
  }

  async quarantinedPods(namespaces?: readonly string[], id?: string): Promise<PodFacts[]> {
    return this.pods.filter((pod) => {
      const value = pod.labels[QUARANTINE_LABEL];
      return value !== undefined && (id === undefined || value === id) && (!namespaces || namespaces.includes(pod.namespace));
    });
  }

  async readOwner(kind: 'ReplicaSet' | 'Deployment' | 'StatefulSet', namespace: string, name: string): Promise<OwnerStatus | undefined> {
    const inNamespace = this.pods.filter((pod) => pod.namespace === namespace);
    if (kind === 'Deployment') {
      const members = inNamespace.filter((pod) => pod.owner?.kind === 'ReplicaSet' && deploymentOf(pod.owner.name, inNamespace) === name);
      return members.length > 0 ? { readyReplicas: members.filter(isReady).length } : undefined;
    }
    const members = inNamespace.filter((pod) => pod.owner?.kind === kind && pod.owner.name === name);
    if (members.length === 0) return undefined;
    const deployment = kind === 'ReplicaSet' ? deploymentOf(name, inNamespace) : undefined;
    return { readyReplicas: members.filter(isReady).length, ...(deployment ? { owner: { kind: 'Deployment', name: deployment } } : {}) };
  }

  async write(write: QuarantineWrite): Promise<PodFacts | undefined> {
    // 405: a refusal, not an outage, so the action fails instead of the batch being retried.
    throw new QuarantineApiError(`${write.kind} write`, 405, 'this inventory is read-only: only dry-run rules can be used with it');
  }
}
