/**
 * The safety rules of automatic quarantine, as pure functions over plain facts. A quarantine cuts
 * a pod off the network, so the rules lean towards refusing: a refusal is an audited `skipped`
 * action a human can follow up; a wrong quarantine of a system pod is an outage.
 */
import { isTerminated, type PodFacts } from './pod-facts.js';

export interface SafetyOptions {
  /** Namespaces never touched, besides kube-system (always protected). */
  readonly protectedNamespaces: readonly string[];
  /**
   * The namespace the responder itself runs in: always protected when set, so a quarantine can
   * never cut the responder (or the rest of flowsentry) off the API server. The responder fills
   * it in from its service account's namespace file or POD_NAMESPACE when not given.
   */
  readonly selfNamespace?: string;
  /** Ready replicas an owner (Deployment, StatefulSet, bare ReplicaSet) must keep, counting the quarantined pod as lost. 0 turns the check off. */
  readonly minHealthyReplicas: number;
  /** Quarantines allowed within `windowMs`; one more opens the circuit breaker. */
  readonly maxPerWindow: number;
  readonly windowMs: number;
  /** How long the breaker stays open after the quarantine that filled a window. */
  readonly coolDownMs: number;
}

export const ALWAYS_PROTECTED_NAMESPACE = 'kube-system';

export const defaultSafetyOptions: SafetyOptions = {
  protectedNamespaces: [],
  minHealthyReplicas: 1,
  maxPerWindow: 5,
  windowMs: 600_000,
  coolDownMs: 600_000,
};

/** The options with defaults filled in; a value that makes no sense is an error at start. */
export function safetyOptionsOf(partial: Partial<SafetyOptions> = {}): SafetyOptions {
  const options = { ...defaultSafetyOptions, ...partial };
  const problems: string[] = [];
  if (!Number.isSafeInteger(options.minHealthyReplicas) || options.minHealthyReplicas < 0) problems.push(`minHealthyReplicas: expected an integer ≥ 0, got ${options.minHealthyReplicas}`);
  if (!Number.isSafeInteger(options.maxPerWindow) || options.maxPerWindow < 1) problems.push(`maxPerWindow: expected an integer ≥ 1, got ${options.maxPerWindow}`);
  if (options.selfNamespace !== undefined && (typeof options.selfNamespace !== 'string' || options.selfNamespace.trim() === '')) {
    problems.push(`selfNamespace: expected a namespace name, got '${String(options.selfNamespace)}'`);
  }
  for (const key of ['windowMs', 'coolDownMs'] as const) if (!Number.isFinite(options[key]) || options[key] <= 0) problems.push(`${key}: expected a positive number of milliseconds, got ${options[key]}`);
  if (problems.length > 0) throw new RangeError(`invalid quarantine safety options: ${problems.join('; ')}`);
  return { ...options, protectedNamespaces: [...new Set([ALWAYS_PROTECTED_NAMESPACE, ...options.protectedNamespaces])] };
}

/** Control-plane components, by the `component` label kubeadm and most installers give them. */
export const controlPlaneComponents: ReadonlySet<string> = new Set(['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler']);

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** Why this pod must never be quarantined, from its own facts; undefined when nothing forbids it. */
export function podRefusal(pod: PodFacts, options: SafetyOptions): string | undefined {
  if (options.selfNamespace !== undefined && pod.namespace === options.selfNamespace) return `protected namespace ${pod.namespace} (the responder's own)`;
  if (pod.namespace === ALWAYS_PROTECTED_NAMESPACE || options.protectedNamespaces.includes(pod.namespace)) return `protected namespace ${pod.namespace}`;
  if (pod.annotations[MIRROR_ANNOTATION] !== undefined || pod.owner?.kind === 'Node') {
    return `static (mirror) pod of node ${pod.owner?.kind === 'Node' ? pod.owner.name : (pod.nodeName ?? 'unknown')}: the kubelet owns it, not the API`;
  }
  if (pod.labels.tier === 'control-plane') return 'control-plane pod (tier=control-plane)';
  const component = pod.labels.component;
  if (component !== undefined && controlPlaneComponents.has(component)) return `control-plane pod (component=${component})`;
  if (pod.owner?.kind === 'DaemonSet') return `owned by DaemonSet ${pod.owner.name}`;
  if (pod.hostNetwork) return "hostNetwork pod: network policy cannot isolate it (it uses its node's network)";
  return undefined;
}

/** The owner whose ready replicas must be checked, as the pod's owner reference names it. */
export function replicaOwnerOf(pod: PodFacts): { kind: 'ReplicaSet' | 'StatefulSet'; name: string } | undefined {
  const owner = pod.owner;
  return owner && (owner.kind === 'ReplicaSet' || owner.kind === 'StatefulSet') ? { kind: owner.kind, name: owner.name } : undefined;
}

/** An owner's ready replicas as its status reports them: a Deployment for a ReplicaSet it owns. */
export interface ReplicaFacts {
  /** `deployment`, `statefulset`, `replicaset`: as the refusal names it. */
  readonly kind: string;
  readonly name: string;
  readonly readyReplicas: number;
  /**
   * Other pods of the same owner already in quarantine. The calico and adminnetworkpolicy
   * backends leave a quarantined pod its labels and readiness, so the status still counts it.
   */
  readonly quarantined?: number;
}

/** Why quarantining one more pod of this owner would leave it too thin, if it would. */
export function replicaRefusal(owner: ReplicaFacts, options: SafetyOptions): string | undefined {
  if (options.minHealthyReplicas === 0) return undefined;
  const others = owner.quarantined ?? 0;
  // The pod is counted as lost whether or not the status still counts it as ready: status lags.
  const left = Math.max(0, owner.readyReplicas - others - 1);
  if (left >= options.minHealthyReplicas) return undefined;
  const already = others > 0 ? ` (${others} already quarantined)` : '';
  return `would leave ${owner.kind} ${owner.name} with ${left} ready replica${left === 1 ? '' : 's'}${already}, minimum ${options.minHealthyReplicas}`;
}

/**
 * The pods among `quarantined` that belong to the same replica owner as `pod`: the same
 * StatefulSet, the same ReplicaSet, or (owner a Deployment) any of the Deployment's ReplicaSets,
 * which are named `<deployment>-<pod-template-hash>`. The pod itself, and pods that terminated
 * or are being deleted, are not counted.
 */
export function quarantinedOfOwner(pod: PodFacts, owner: { kind: 'deployment' | 'statefulset' | 'replicaset'; name: string }, quarantined: readonly PodFacts[]): PodFacts[] {
  const sameOwner = (other: PodFacts): boolean => {
    const ref = other.owner;
    if (!ref) return false;
    if (owner.kind === 'statefulset') return ref.kind === 'StatefulSet' && ref.name === owner.name;
    if (ref.kind !== 'ReplicaSet') return false;
    if (ref.name === pod.owner?.name) return true;
    const hash = other.labels['pod-template-hash'];
    return owner.kind === 'deployment' && hash !== undefined && ref.name === `${owner.name}-${hash}`;
  };
  return quarantined.filter((other) => other.namespace === pod.namespace && other.uid !== pod.uid && !isTerminated(other) && !other.deleting && sameOwner(other));
}

export interface BreakerState {
  readonly open: boolean;
  /** Quarantines applied within the window ending now. */
  readonly count: number;
  readonly reason?: string;
  /** When an open breaker closes again, at the earliest (epoch ms). */
  readonly closesAt?: number;
}

function spell(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1_000)} s`;
}

/**
 * The circuit breaker, from applied-at times: those of the quarantines in place (read from the
 * API, so a restart does not reset it) together with those the responder remembers applying
 * (lifted ones still count within the window). Open while the window ending now holds `maxPerWindow`
 * quarantines, and for `coolDownMs` after the quarantine that filled a window.
 */
export function breakerState(appliedAt: readonly number[], now: number, options: SafetyOptions): BreakerState {
  const { maxPerWindow: max, windowMs, coolDownMs } = options;
  const times = appliedAt.filter((time) => time <= now).sort((a, b) => a - b);
  const count = times.filter((time) => time > now - windowMs).length;
  let trippedAt: number | undefined;
  for (let i = max - 1; i < times.length; i++) if (times[i]! - times[i - max + 1]! < windowMs) trippedAt = times[i];
  const coolingUntil = trippedAt === undefined ? undefined : trippedAt + coolDownMs;
  if (count >= max) {
    const oldest = times.filter((time) => time > now - windowMs)[count - max]!;
    const closesAt = Math.max(oldest + windowMs, coolingUntil ?? 0);
    return { open: true, count, closesAt, reason: `circuit breaker open: ${count} quarantines in ${spell(windowMs)} (closes at ${new Date(closesAt).toISOString()})` };
  }
  if (coolingUntil !== undefined && now < coolingUntil) {
    return { open: true, count, closesAt: coolingUntil, reason: `circuit breaker open: ${max} quarantines in ${spell(windowMs)}, cooling down until ${new Date(coolingUntil).toISOString()}` };
  }
  return { open: false, count };
}
