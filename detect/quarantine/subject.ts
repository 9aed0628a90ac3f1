/**
 * Which pod an alert blames. The subject is the alert's source end, or the end that
 * `evidence.subject_end` names (an ioc match on the source blames the destination). A pod is
 * found by namespace and name when the alert names one; otherwise by its address, taking the pod
 * that held the address at the alert's time, because pod IPs are reused.
 */
import type { Alert } from '../../schemas/types.js';
import { isTerminated, podRef, type PodFacts } from './pod-facts.js';

export type SubjectRef =
  | { readonly by: 'name'; readonly namespace: string; readonly name: string; readonly at: number }
  | { readonly by: 'ip'; readonly ip: string; readonly namespace?: string; readonly at: number }
  | { readonly by: 'none'; readonly reason: string; readonly label: string; readonly namespace?: string };

/** A name that is one pod's, not an aggregate (`frontend-7d9f8c-*`) nor a placeholder (`-`). */
const isPodName = (name: string | null | undefined): name is string => !!name && name !== '-' && !name.includes('*');

/** The end of the alert to act on, and how to find its pod. The alert's time is its latest evidence. */
export function subjectOf(alert: Alert): SubjectRef {
  const dest = alert.evidence?.subject_end === 'dest';
  const type = dest ? alert.dest_type : alert.source_type;
  const namespace = (dest ? alert.dest_namespace : alert.source_namespace) ?? undefined;
  const name = dest ? alert.dest_name : alert.source_name;
  const ip = (dest ? alert.dest_ip : alert.source_ip) ?? undefined;
  const label = isPodName(name) ? `${namespace ?? '-'}/${name}` : (ip ?? (dest ? alert.dest_name_aggr : alert.source_name_aggr) ?? '-');
  const at = alert.end_time;
  if (type && type !== 'wep') {
    const what = type === 'hep' ? 'a host endpoint' : type === 'ns' ? 'a network set' : 'an outside network';
    return { by: 'none', reason: `subject ${label} is not a pod but ${what}`, label, ...(namespace ? { namespace } : {}) };
  }
  if (namespace && isPodName(name)) return { by: 'name', namespace, name, at };
  if (ip) return { by: 'ip', ip, at, ...(namespace ? { namespace } : {}) };
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
 * The pod that held `ip` at time `at`, among the pods the API lists with that address. A pod
 * created later holds a reused address; a terminated pod still shows the address it had. Several
 * candidates left (host-network pods share their node's address) is no answer: the subject is
 * ambiguous, and a refusal is safer than a guess.
 */
export function choosePodForAddress(pods: readonly PodFacts[], ip: string, at: number): { pod: PodFacts } | { reason: string } {
  const when = new Date(at).toISOString();
  const candidates = pods.filter((pod) => pod.ip === ip && !isTerminated(pod) && !pod.deleting && (pod.createdAt === undefined || pod.createdAt <= at));
  if (candidates.length === 1) return { pod: candidates[0]! };
  if (candidates.length === 0) {
    const later = pods.filter((pod) => pod.createdAt !== undefined && pod.createdAt > at).map(podRef);
    return { reason: `no pod held ${ip} at ${when}${later.length > 0 ? ` (now held by ${later.join(', ')}, created later)` : ''}` };
  }
  return { reason: `${ip} at ${when} is ambiguous: held by ${candidates.map(podRef).join(', ')}` };
}
