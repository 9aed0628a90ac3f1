import type { Labels, OwnerReference } from '../schemas/types.js';

/** How a pod is named in aggregated flows, and the owner that outlives its rollouts. */
export interface PodWorkload {
  /** Calico's aggregated name: the owner-derived prefix, `frontend-7d9f8c6b5d-*`; a bare pod keeps its name. */
  readonly nameAggr: string;
  /** The stable owner as `kind/name`: `deployment/frontend`, `statefulset/db`, `cronjob/backup`, `pod/debug`. */
  readonly workload: string;
}

/** A Job created by a CronJob is named `<cronjob>-<scheduled minute since the epoch>`. */
const cronJobRun = /^(.+)-\d{8,}$/;

function controllerOf(owners: readonly OwnerReference[]): OwnerReference | undefined {
  return owners.find((owner) => owner.controller) ?? owners[0];
}

/**
 * The aggregated name and stable workload of a pod, from its owner chain as the pod itself shows
 * it: a ReplicaSet whose name is `<deployment>-<pod-template-hash>` belongs to that Deployment;
 * a Job named `<name>-<8+ digits>` belongs to the CronJob `<name>`; a static pod (owned by its
 * Node) is named `<name>-<node>`.
 */
export function podWorkload(pod: { readonly name: string; readonly labels: Labels; readonly owners: readonly OwnerReference[] }): PodWorkload {
  const owner = controllerOf(pod.owners);
  if (!owner) return { nameAggr: pod.name, workload: `pod/${pod.name}` };
  const nameAggr = `${owner.name}-*`;
  switch (owner.kind) {
    case 'ReplicaSet': {
      const hash = pod.labels['pod-template-hash'];
      if (hash && owner.name.endsWith(`-${hash}`) && owner.name.length > hash.length + 1) {
        return { nameAggr, workload: `deployment/${owner.name.slice(0, -hash.length - 1)}` };
      }
      return { nameAggr, workload: `replicaset/${owner.name}` };
    }
    case 'Job': {
      const run = cronJobRun.exec(owner.name);
      return { nameAggr, workload: run ? `cronjob/${run[1]}` : `job/${owner.name}` };
    }
    case 'Node': {
      const base = pod.name.endsWith(`-${owner.name}`) ? pod.name.slice(0, -owner.name.length - 1) : pod.name;
      return { nameAggr: `${base}-*`, workload: `static/${base}` };
    }
    default:
      return { nameAggr, workload: `${owner.kind.toLowerCase()}/${owner.name}` };
  }
}
