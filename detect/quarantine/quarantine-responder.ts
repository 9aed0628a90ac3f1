/**
 * Automatic, safe quarantine of an alert's subject pod. The Kubernetes API is the only state: a
 * quarantine is a label and annotations on the pod (quarantine-names.ts), so a restarted responder,
 * a second replica and the CLI all see the same quarantines, count the same circuit breaker and
 * find a redelivered alert's quarantine by its deterministic id.
 *
 * Every outcome is a ResponseAction for the audit trail: `applied`, `requested` (dry run),
 * `skipped` (a safety rule or no subject, with the reason), `failed` (the API call and its
 * answer); a release is an `undo` that is `undone` (by hand) or `expired` (TTL).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Alert, ResponseAction, ResponseTarget } from '../../schemas/types.js';
import { KubernetesQuarantineApi, type QuarantineCluster } from './kubernetes-quarantine-api.js';
import type { PodFacts } from './pod-facts.js';
import { quarantinePatch, releasePatch } from './pod-patches.js';
import { policyObjectFor } from './policy-objects.js';
import { QuarantineApiError } from './quarantine-errors.js';
import { DEFAULT_POLICY_NAME, QUARANTINE_LABEL, quarantineAnnotations as notes, quarantineId, undoActionId } from './quarantine-names.js';
import { applyPolicyWrite, describeWrites, type QuarantineWrite } from './quarantine-writes.js';
import { ruleFor, type QuarantineBackend, type QuarantineRule, type ResponsePolicy } from './response-policy.js';
import { breakerState, podRefusal, replicaOwnerOf, replicaRefusal, safetyOptionsOf, type ReplicaFacts, type SafetyOptions } from './safety.js';
import { choosePodForAddress, namedPodProblem, subjectOf, type SubjectRef } from './subject.js';

export interface QuarantineResponderOptions {
  readonly kubeConfig: KubeConfig;
  /** Which alerts quarantine, with which backend, TTL and dry-run setting. */
  readonly policy: ResponsePolicy;
  /** Protected namespaces (kube-system always), minimum replicas, circuit breaker. */
  readonly safety?: Partial<SafetyOptions>;
  readonly now?: () => number;
  /** Name of the shared policy objects (GlobalNetworkPolicy, AdminNetworkPolicy, NetworkPolicy). Default `flowsentry-quarantine`. */
  readonly policyName?: string;
  /**
   * Confine the responder to these namespaces: subjects elsewhere are refused, and the breaker,
   * list() and releaseExpired() see only quarantines in them. Default: the whole cluster.
   */
  readonly namespaces?: readonly string[];
  /** Another implementation of the calls, instead of the Kubernetes adapter made from kubeConfig (a test double, say). */
  readonly cluster?: QuarantineCluster;
}

/** A quarantine in place, as the pod's label and annotations describe it. */
export interface ActiveQuarantine {
  readonly id: string;
  readonly namespace: string;
  readonly pod: string;
  readonly podUid: string;
  readonly backend: string;
  readonly alertId: string | undefined;
  /** Epoch ms, undefined when the annotation is missing or unreadable. */
  readonly appliedAt: number | undefined;
  readonly expiresAt: number | undefined;
}

/** What respond() would do for an alert, without doing it: the actions and the exact writes. */
export interface QuarantinePlan {
  readonly actions: ResponseAction[];
  readonly writes: QuarantineWrite[];
  /** The writes as the HTTP requests they are (JSON), for printing. */
  readonly text: string;
}

/** Attempts when a pod changes between our read and our patch (409 Conflict). */
const MAX_ATTEMPTS = 3;

const parseTime = (text: string | undefined): number | undefined => {
  const time = text === undefined ? undefined : Date.parse(text);
  return time !== undefined && Number.isFinite(time) ? time : undefined;
};
const iso = (time: number) => new Date(time).toISOString();

export function activeQuarantineOf(pod: PodFacts): ActiveQuarantine {
  return {
    id: pod.labels[QUARANTINE_LABEL] ?? '',
    namespace: pod.namespace,
    pod: pod.name,
    podUid: pod.uid,
    backend: pod.annotations[notes.backend] ?? 'unknown',
    alertId: pod.annotations[notes.alertId],
    appliedAt: parseTime(pod.annotations[notes.appliedAt]),
    expiresAt: parseTime(pod.annotations[notes.expiresAt]),
  };
}

const podTarget = (pod: PodFacts): ResponseTarget => ({ kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid });

function subjectTarget(subject: SubjectRef): ResponseTarget {
  if (subject.by === 'name') return { kind: 'Pod', namespace: subject.namespace, name: subject.name, uid: null };
  const name = subject.by === 'ip' ? subject.ip : subject.label;
  return { kind: 'Pod', namespace: subject.namespace ?? null, name, uid: null };
}

type Located = { pod: PodFacts } | { reason: string };

export class QuarantineResponder {
  private readonly cluster: QuarantineCluster;
  private readonly safety: SafetyOptions;
  private readonly now: () => number;
  private readonly policyName: string;
  /** One operation at a time, so the breaker counts what this responder itself just did. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: QuarantineResponderOptions) {
    this.cluster = options.cluster ?? new KubernetesQuarantineApi(options.kubeConfig);
    this.safety = safetyOptionsOf(options.safety);
    this.now = options.now ?? Date.now;
    this.policyName = options.policyName ?? DEFAULT_POLICY_NAME;
  }

  /**
   * Decides on an alert and carries the decision out: nothing when no rule matches (or the alert
   * is a resolution), else one action. A redelivered alert whose quarantine is in place changes
   * nothing and states the same `applied` action again (same action_id, same content); an alert
   * about a pod another alert already quarantined, or about a pod released from this very
   * quarantine, gives no action.
   */
  respond(alert: Alert): Promise<ResponseAction[]> {
    return this.serialized(async () => (await this.handle(alert, false)).actions);
  }

  /** What respond() would do, as a dry run whatever the rule says: nothing is written. */
  dryRunPlan(alert: Alert): Promise<QuarantinePlan> {
    return this.serialized(() => this.handle(alert, true));
  }

  /** Lifts a quarantine by hand (kind undo, status undone). Nothing to lift (unknown or already released): no action. */
  release(id: string, by: string): Promise<ResponseAction[]> {
    return this.serialized(async () => {
      const [pod] = await this.cluster.quarantinedPods(this.options.namespaces, id);
      const action = pod && (await this.lift(pod, 'undone', by, `released by ${by}`));
      return action ? [action] : [];
    });
  }

  /** Lifts every quarantine past its expires-at (kind undo, status expired). */
  releaseExpired(): Promise<ResponseAction[]> {
    return this.serialized(async () => {
      const now = this.now();
      const actions: ResponseAction[] = [];
      for (const pod of await this.cluster.quarantinedPods(this.options.namespaces)) {
        const expiresAt = parseTime(pod.annotations[notes.expiresAt]);
        // A quarantine without a readable expiry never expires by itself: a human decides.
        if (expiresAt === undefined || expiresAt > now) continue;
        const action = await this.lift(pod, 'expired', 'flowsentry', `expired at ${iso(expiresAt)}`);
        if (action) actions.push(action);
      }
      return actions;
    });
  }

  /** The quarantines in place, oldest first. */
  async list(): Promise<ActiveQuarantine[]> {
    const pods = await this.cluster.quarantinedPods(this.options.namespaces);
    return pods.map(activeQuarantineOf).sort((a, b) => (a.appliedAt ?? 0) - (b.appliedAt ?? 0) || a.id.localeCompare(b.id));
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async handle(alert: Alert, planOnly: boolean): Promise<QuarantinePlan> {
    const rule = ruleFor(this.options.policy, alert);
    // A resolution says the condition cleared: it never starts a quarantine.
    if (!rule || alert.status === 'resolved') return { actions: [], writes: [], text: '[]' };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(alert, rule, planOnly || rule.dryRun);
      } catch (error) {
        if (!(error instanceof Conflict)) throw error;
        if (attempt >= MAX_ATTEMPTS) {
          const failed = { ...error.action, reason: `${error.action.reason} (${attempt} attempts)` };
          return { actions: [failed], writes: [], text: '[]' };
        }
      }
    }
  }

  /** One pass: read, judge, write. A pod that changed under our patch throws Conflict (read again). */
  private async attempt(alert: Alert, rule: QuarantineRule, dryRun: boolean): Promise<QuarantinePlan> {
    const requestedAt = this.now();
    const subject = subjectOf(alert);
    let target = subjectTarget(subject);
    let id = quarantineId(alert.alert_id, '');
    const action = (status: ResponseAction['status'], reason: string, extra: Partial<ResponseAction> = {}): ResponseAction => ({
      action_id: id,
      alert_id: alert.alert_id,
      kind: 'quarantine',
      target,
      dry_run: dryRun,
      status,
      reason,
      requested_by: alert.detector,
      requested_at: requestedAt,
      completed_at: this.now(),
      expires_at: null,
      undoes_action_id: null,
      ...extra,
    });
    const only = (one: ResponseAction, writes: QuarantineWrite[] = []): QuarantinePlan => ({ actions: [one], writes, text: describeWrites(writes) });
    try {
      const located = await this.locate(subject);
      if ('reason' in located) return only(action('skipped', located.reason));
      const pod = located.pod;
      target = podTarget(pod);
      id = quarantineId(alert.alert_id, pod.uid);
      const current = pod.labels[QUARANTINE_LABEL];
      if (current === id) return only(this.restated(pod, alert, target, id));
      if (current !== undefined || pod.annotations[notes.released] === id) return { actions: [], writes: [], text: '[]' };
      const refusal = podRefusal(pod, this.safety) ?? (await this.replicaCheck(pod)) ?? (await this.breakerCheck(requestedAt));
      if (refusal) return only(action('skipped', refusal));
      const expiresAt = requestedAt + rule.ttlMs;
      const writes = this.writesFor(rule.backend, pod, { id, alertId: alert.alert_id, backend: rule.backend, appliedAt: requestedAt, expiresAt });
      if (dryRun) {
        return only(action('requested', `dry run (rule ${rule.name}): would apply ${rule.backend} quarantine until ${iso(expiresAt)}; nothing written`, { expires_at: expiresAt }), writes);
      }
      for (const write of writes) await this.cluster.write(write);
      return only(action('applied', appliedReason(rule.backend, expiresAt), { requested_at: requestedAt, completed_at: requestedAt, expires_at: expiresAt }), writes);
    } catch (error) {
      if (!(error instanceof QuarantineApiError)) throw error;
      const failed = action('failed', error.message);
      if (error.conflict) throw new Conflict(failed);
      return only(failed);
    }
  }

  /** The applied action of a quarantine in place, rebuilt from the pod alone: the same record the first time gave. */
  private restated(pod: PodFacts, alert: Alert, target: ResponseTarget, id: string): ResponseAction {
    const active = activeQuarantineOf(pod);
    const appliedAt = active.appliedAt ?? this.now();
    return {
      action_id: id,
      alert_id: alert.alert_id,
      kind: 'quarantine',
      target,
      dry_run: false,
      status: 'applied',
      reason: active.expiresAt === undefined ? `${active.backend} quarantine` : appliedReason(active.backend, active.expiresAt),
      requested_by: alert.detector,
      requested_at: appliedAt,
      completed_at: appliedAt,
      expires_at: active.expiresAt ?? null,
      undoes_action_id: null,
    };
  }

  private writesFor(backend: QuarantineBackend, pod: PodFacts, marks: Parameters<typeof quarantinePatch>[1]): QuarantineWrite[] {
    return [
      // The policy first: the label takes effect the moment it lands.
      applyPolicyWrite(backend, policyObjectFor(backend, this.policyName, pod.namespace)),
      { kind: 'patch-pod', namespace: pod.namespace, name: pod.name, patch: quarantinePatch(pod, marks) },
    ];
  }

  private async locate(subject: SubjectRef): Promise<Located> {
    const scope = this.options.namespaces;
    if (subject.by === 'none') return { reason: subject.reason };
    if (subject.by === 'name') {
      if (scope && !scope.includes(subject.namespace)) return { reason: `namespace ${subject.namespace} is outside the responder's namespaces` };
      const pod = await this.cluster.readPod(subject.namespace, subject.name);
      if (!pod) return { reason: `no pod ${subject.namespace}/${subject.name}` };
      const problem = namedPodProblem(pod, subject.at);
      return problem ? { reason: problem } : { pod };
    }
    return choosePodForAddress(await this.cluster.podsWithAddress(subject.ip, scope), subject.ip, subject.at);
  }

  /** The replicas rule: the owner's ready replicas (a ReplicaSet's Deployment when it has one). */
  private async replicaCheck(pod: PodFacts): Promise<string | undefined> {
    if (this.safety.minHealthyReplicas === 0) return undefined;
    const owner = replicaOwnerOf(pod);
    if (!owner) return undefined;
    const status = await this.cluster.readOwner(owner.kind, pod.namespace, owner.name);
    if (!status) return `cannot check replicas: ${owner.kind.toLowerCase()} ${pod.namespace}/${owner.name} not found`;
    let facts: ReplicaFacts = { kind: owner.kind.toLowerCase(), name: owner.name, readyReplicas: status.readyReplicas };
    if (owner.kind === 'ReplicaSet' && status.owner?.kind === 'Deployment') {
      const deployment = await this.cluster.readOwner('Deployment', pod.namespace, status.owner.name);
      if (!deployment) return `cannot check replicas: deployment ${pod.namespace}/${status.owner.name} not found`;
      facts = { kind: 'deployment', name: status.owner.name, readyReplicas: deployment.readyReplicas };
    }
    return replicaRefusal(facts, this.safety);
  }

  private async breakerCheck(now: number): Promise<string | undefined> {
    const pods = await this.cluster.quarantinedPods(this.options.namespaces);
    const times = pods.map((pod) => parseTime(pod.annotations[notes.appliedAt])).filter((time): time is number => time !== undefined);
    return breakerState(times, now, this.safety).reason;
  }

  /**
   * Takes a pod out of quarantine, reading it again when it changed under the patch. Undefined
   * when, read again, it is no longer in this quarantine (another responder lifted it).
   */
  private async lift(first: PodFacts, status: 'undone' | 'expired', by: string, why: string): Promise<ResponseAction | undefined> {
    const id = first.labels[QUARANTINE_LABEL] ?? '';
    const requestedAt = this.now();
    const action = (outcome: ResponseAction['status'], reason: string): ResponseAction => ({
      action_id: undoActionId(id),
      alert_id: first.annotations[notes.alertId] ?? null,
      kind: 'undo',
      target: podTarget(first),
      dry_run: false,
      status: outcome,
      reason,
      requested_by: by,
      requested_at: requestedAt,
      completed_at: this.now(),
      expires_at: null,
      undoes_action_id: id,
    });
    let pod: PodFacts | undefined = first;
    for (let attempt = 1; ; attempt++) {
      if (!pod || pod.labels[QUARANTINE_LABEL] !== id) return undefined;
      const { patch, restored } = releasePatch(pod);
      try {
        await this.cluster.write({ kind: 'patch-pod', namespace: pod.namespace, name: pod.name, patch });
        return action(status, restored === false ? `${why}; original labels not restored: their record is missing or unreadable` : why);
      } catch (error) {
        if (!(error instanceof QuarantineApiError)) throw error;
        if (!error.conflict || attempt >= MAX_ATTEMPTS) return action('failed', `${why}: ${error.message}`);
        try {
          pod = await this.cluster.readPod(pod.namespace, pod.name);
        } catch (reread) {
          if (reread instanceof QuarantineApiError) return action('failed', `${why}: ${reread.message}`);
          throw reread;
        }
      }
    }
  }
}

function appliedReason(backend: string, expiresAt: number): string {
  return `${backend} quarantine until ${iso(expiresAt)}`;
}

/** A patch refused for a stale resourceVersion: the attempt starts over from a fresh read. */
class Conflict extends Error {
  constructor(readonly action: ResponseAction) {
    super(action.reason ?? 'conflict');
  }
}
