/**
 * Which pod an alert blames. The subject is the alert's source end, or the end that
 * `evidence.subject_end` names (an ioc match on the source blames the destination). A pod is
 * found by namespace and name when the alert names one; otherwise by its address, taking the pod
 * that held the address at the alert's time, because pod IPs are reused, and only when that pod
 * is in the alert's namespace and fits its aggregated name or workload.
 */
import { podWorkload } from '../../enrich/workload.js';
import type { Alert } from '../../schemas/types.js';
import { isTerminated, podRef, type PodFacts } from './pod-facts.js';

/** What the alert itself says about its subject end, besides the address: a pod found by address must agree. */
export interface SubjectClaims {
  readonly namespace?: string;
  /** Calico's aggregated name: `web-7d9f8c6b5-*` (a prefix), or a bare pod's own name. */
  readonly nameAggr?: string;
  /** The stable owner as the enricher names it: `deployment/web`, `statefulset/db`. */
  readonly workload?: string;
}

export type SubjectRef =
  | { readonly by: 'name'; readonly namespace: string; readonly name: string; readonly at: number }
  | ({ readonly by: 'ip'; readonly ip: string; readonly at: number } & SubjectClaims)
  | { readonly by: 'none'; readonly reason: string; readonly label: string; readonly namespace?: string };

/** A name that is one pod's, not an aggregate (`frontend-7d9f8c-*`) nor a placeholder (`-`). */
const isPodName = (name: string | null | undefined): name is string => !!name && name !== '-' && !name.includes('*');

/** A name or workload that says something (not empty, not the placeholder `-`). */
const isClaim = (value: string | undefined): value is string => !!value && value !== '-';

/** Whether a pod is the one the alert's namespace, aggregated name and workload describe. */
export function podMatchesClaims(pod: PodFacts, claims: SubjectClaims): boolean {
  if (claims.namespace !== undefined && pod.namespace !== claims.namespace) return false;
  const { nameAggr, workload } = claims;
  if (!isClaim(nameAggr) && !isClaim(workload)) return true;
  const star = nameAggr?.indexOf('*') ?? -1;
  const byName = isClaim(nameAggr) && (star >= 0 ? pod.name.startsWith(nameAggr.slice(0, star)) : pod.name === nameAggr);
  const owners = pod.owner ? [{ kind: pod.owner.kind, name: pod.owner.name, uid: '', controller: true }] : [];
  const byWorkload = isClaim(workload) && podWorkload({ name: pod.name, labels: pod.labels, owners }).workload === workload;
  return byName || byWorkload;
}

function describeClaims(claims: SubjectClaims): string {
  const name = `${claims.namespace ?? '*'}/${claims.nameAggr ?? '*'}`;
  return claims.workload ? `${name} (${claims.workload})` : name;
}

/** The end of the alert to act on, and how to find its pod. The alert's time is its latest evidence. */
export function subjectOf(alert: Alert): SubjectRef {
  const dest = alert.evidence?.subject_end === 'dest';
  const type = dest ? alert.dest_type : alert.source_type;
  const namespace = (dest ? alert.dest_namespace : alert.source_namespace) ?? undefined;
  const name = dest ? alert.dest_name : alert.source_name;
  const ip = (dest ? alert.dest_ip : alert.source_ip) ?? undefined;
  const nameAggr = (dest ? alert.dest_name_aggr : alert.source_name_aggr) ?? undefined;
  const workload = (dest ? alert.dest_workload : alert.source_workload) ?? undefined;
  const label = isPodName(name) ? `${namespace ?? '-'}/${name}` : (ip ?? nameAggr ?? '-');
  const at = alert.end_time;
  if (type && type !== 'wep') {
    const what = type === 'hep' ? 'a host endpoint' : type === 'ns' ? 'a network set' : 'an outside network';
    return { by: 'none', reason: `subject ${label} is not a pod but ${what}`, label, ...(namespace ? { namespace } : {}) };
  }
  if (namespace && isPodName(name)) return { by: 'name', namespace, name, at };
  if (ip) {
    return {
      by: 'ip',
      ip,
      at,
      ...(namespace ? { namespace } : {}),
      ...(isClaim(nameAggr) ? { nameAggr } : {}),
      ...(isClaim(workload) ? { workload } : {}),
    };
  }
  return { by: 'none', reason: `subject ${label} names no pod and no address`, label, ...(namespace ? { namespace } : {}) };
}

/** Why a pod found by name is not the one the alert is about, if it is not. */
export function namedPodProblem(pod: PodFacts, at: number): string | undefined {
  if (pod.createdAt !== undefined && pod.createdAt > at) return `pod ${podRef(pod)} was created after the alert's evidence (${new Date(at).toISOString()}): a new pod with the same name`;
  if (isTerminated(pod)) return `pod ${podRef(pod)} has terminated (${pod.phase})`;
  if (pod.deleting) return `pod ${podRef(pod)} is being deleted`;
  return undefined;
}

/**
 * The pod that held `ip` at time `at`, among the pods the API lists with that address, and that
 * is the pod the alert describes (`claims`: its namespace, aggregated name, workload). A pod
 * created later holds a reused address; a terminated pod still shows the address it had. A pod
 * that held the address but is not the one described (the address moved on to another
 * workload, or another namespace) is refused, not blamed. Several candidates left (host-network
 * pods share their node's address) is no answer either: a refusal is safer than a guess.
 */
export function choosePodForAddress(pods: readonly PodFacts[], ip: string, at: number, claims: SubjectClaims = {}): { pod: PodFacts } | { reason: string } {
  const when = new Date(at).toISOString();
  const heldThen = pods.filter((pod) => pod.ip === ip && !isTerminated(pod) && !pod.deleting && (pod.createdAt === undefined || pod.createdAt <= at));
  const candidates = heldThen.filter((pod) => podMatchesClaims(pod, claims));
  if (candidates.length === 1) return { pod: candidates[0]! };
  if (candidates.length === 0 && heldThen.length > 0) {
    return { reason: `${ip} at ${when} was held by ${heldThen.map(podRef).join(', ')}, not by the alert's subject ${describeClaims(claims)}: refused rather than guessed` };
  }
  if (candidates.length === 0) {
    const later = pods.filter((pod) => pod.createdAt !== undefined && pod.createdAt > at).map(podRef);
    return { reason: `no pod held ${ip} at ${when}${later.length > 0 ? ` (now held by ${later.join(', ')}, created later)` : ''}` };
  }
  return { reason: `${ip} at ${when} is ambiguous: held by ${candidates.map(podRef).join(', ')}` };
}
