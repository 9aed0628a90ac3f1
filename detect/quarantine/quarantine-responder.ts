/**
 * Automatic, safe quarantine of an alert's subject pod. The Kubernetes API is the only state: a
 * quarantine is a label and annotations on the pod (quarantine-names.ts), so a restarted responder,
 * a second replica and the CLI all see the same quarantines, count the same circuit breaker and
 * find a redelivered alert's quarantine by its deterministic id. The one thing held in memory is
 * the applied-at times of this responder's recent quarantines, so the breaker still counts those
 * lifted within its window.
 *
 * Every outcome is a ResponseAction for the audit trail: `applied`, `requested` (dry run),
 * `skipped` (a safety rule or no subject, with the reason), `failed` (the API call and its
 * answer); a release is an `undo` that is `undone` (by hand) or `expired` (TTL). An API error
 * worth retrying (no answer, 429, 5xx) is no outcome: it is thrown, for the caller to try again.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { podNamespace } from '../../runtime/kubernetes/pod-namespace.js';
import type { Alert, ResponseAction, ResponseTarget } from '../../schemas/types.js';
import type { QuarantineCluster } from './kubernetes-quarantine-api.js';
import type { PodFacts } from './pod-facts.js';
import { quarantinePatch, releasePatch } from './pod-patches.js';
import { policyObjectFor } from './policy-objects.js';
import { QuarantineApiError } from './quarantine-errors.js';
import { DEFAULT_POLICY_NAME, QUARANTINE_LABEL, quarantineAnnotations as notes, quarantineId, undoActionId } from './quarantine-names.js';
import { applyPolicyWrite, describeWrites, type QuarantineWrite } from './quarantine-writes.js';
import { ruleFor, type QuarantineBackend, type QuarantineRule, type ResponsePolicy } from './response-policy.js';
import { breakerState, podRefusal, quarantinedOfOwner, replicaOwnerOf, replicaRefusal, safetyOptionsOf, type ReplicaFacts, type SafetyOptions } from './safety.js';
import { choosePodForAddress, namedPodProblem, subjectOf, type SubjectRef } from './subject.js';

export interface QuarantineResponderOptions {
  /** The API server to act on; not needed with `cluster`. */
  readonly kubeConfig?: KubeConfig;
  /** Which alerts quarantine, with which backend, TTL and dry-run setting. */
  readonly policy: ResponsePolicy;
  /**
   * Protected namespaces (kube-system always), minimum replicas, circuit breaker. `selfNamespace`
   * defaults to the namespace this process runs in (ownNamespace()), when it can tell.
   */
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
  /** Called with the exact writes of each dry-run decision of respond() (a rule with dryRun), for the log. */
  readonly onDryRun?: (plan: QuarantinePlan) => void;
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

/** The namespace this responder runs in (always protected). */
export const ownNamespace = podNamespace;

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

/**
 * The Kubernetes adapter, loaded on its first call: a responder given another cluster (the demo's
 * inventory, a test double) never loads the Kubernetes client library, which is slow to load.
 */
function kubernetesCluster(kubeConfig: KubeConfig): QuarantineCluster {
  let adapter: Promise<QuarantineCluster> | undefined;
  const api = () =>
    (adapter ??= import('./kubernetes-quarantine-api.js')
      .then(({ KubernetesQuarantineApi }) => new KubernetesQuarantineApi(kubeConfig))
      .catch((error: unknown) => {
        adapter = undefined; // the next call tries again
        throw error;
      }));
  return {
    readPod: async (namespace, name) => (await api()).readPod(namespace, name),
    podsWithAddress: async (ip, namespaces) => (await api()).podsWithAddress(ip, namespaces),
    quarantinedPods: async (namespaces, id) => (await api()).quarantinedPods(namespaces, id),
    readOwner: async (kind, namespace, name) => (await api()).readOwner(kind, namespace, name),
    write: async (write) => (await api()).write(write),
  };
}

export class QuarantineResponder {
  private readonly cluster: QuarantineCluster;
  private readonly safety: SafetyOptions;
  private readonly now: () => number;
  private readonly policyName: string;
  /** One operation at a time, so the breaker counts what this responder itself just did. */
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Quarantine id → applied-at of the quarantines this responder applied lately, so the breaker
   * still counts those lifted since (released, expired, pod deleted). Kept for one window and
   * one cool-down, no longer.
   */
  private readonly appliedLately = new Map<string, number>();
  /** Releases done by a releaseExpired() that then met a retriable error: the next call returns them first. */
  private unreportedReleases: ResponseAction[] = [];

  constructor(private readonly options: QuarantineResponderOptions) {
    if (!options.cluster && !options.kubeConfig) throw new Error('a quarantine responder needs a kubeConfig or a cluster');
    this.cluster = options.cluster ?? kubernetesCluster(options.kubeConfig!);
    const selfNamespace = options.safety?.selfNamespace ?? ownNamespace();
    this.safety = safetyOptionsOf({ ...options.safety, ...(selfNamespace !== undefined ? { selfNamespace } : {}) });
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
    return this.serialized(async () => {
      const plan = await this.handle(alert, false);
      if (plan.writes.length > 0 && plan.actions.some((action) => action.dry_run)) this.options.onDryRun?.(plan);
      return plan.actions;
    });
  }

  /** What respond() would do, as a dry run whatever the rule says: nothing is written. */
  dryRunPlan(alert: Alert): Promise<QuarantinePlan> {
    return this.serialized(() => this.handle(alert, true));
  }

  /**
   * Lifts a quarantine by hand (kind undo, status undone). Nothing to lift (unknown or already
   * released): no action. An API error worth retrying (no answer, 429, 5xx) is thrown.
   */
  release(id: string, by: string): Promise<ResponseAction[]> {
    return this.serialized(async () => {
      const [pod] = await this.cluster.quarantinedPods(this.options.namespaces, id);
      const action = pod && (await this.lift(pod, 'undone', by, `released by ${by}`));
      return action ? [action] : [];
    });
  }

  /**
   * Lifts every quarantine past its expires-at (kind undo, status expired). An API error worth
   * retrying (no answer, 429, 5xx) ends the pass and is thrown, for the caller to try again at
   * its next tick; the releases done before it are returned by that next call, so none goes
   * unaudited.
   */
  releaseExpired(): Promise<ResponseAction[]> {
    return this.serialized(async () => {
      const now = this.now();
      const actions = this.unreportedReleases;
      this.unreportedReleases = [];
      try {
        for (const pod of await this.cluster.quarantinedPods(this.options.namespaces)) {
          const expiresAt = parseTime(pod.annotations[notes.expiresAt]);
          // A quarantine without a readable expiry never expires by itself: a human decides.
          if (expiresAt === undefined || expiresAt > now) continue;
          const action = await this.lift(pod, 'expired', 'flowsentry', `expired at ${iso(expiresAt)}`);
          if (action) actions.push(action);
        }
      } catch (error) {
        this.unreportedReleases = actions;
        throw error;
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
      let refusal = podRefusal(pod, this.safety);
      if (!refusal) {
        // One list for both rules: the replicas rule discounts the owner's quarantined pods, the breaker counts them all.
        const quarantined = await this.cluster.quarantinedPods(this.options.namespaces);
        refusal = (await this.replicaCheck(pod, quarantined)) ?? this.breakerCheck(requestedAt, quarantined);
      }
      if (refusal) return only(action('skipped', refusal));
      const expiresAt = requestedAt + rule.ttlMs;
      const writes = this.writesFor(rule.backend, pod, { id, alertId: alert.alert_id, backend: rule.backend, appliedAt: requestedAt, expiresAt });
      if (dryRun) {
        return only(action('requested', `dry run (rule ${rule.name}): would apply ${rule.backend} quarantine until ${iso(expiresAt)}; nothing written`, { expires_at: expiresAt }), writes);
      }
      for (const write of writes) await this.cluster.write(write);
      this.appliedLately.set(id, requestedAt);
      return only(action('applied', appliedReason(rule.backend, expiresAt), { requested_at: requestedAt, completed_at: requestedAt, expires_at: expiresAt }), writes);
    } catch (error) {
      // Every API call is wrapped in QuarantineApiError: anything else is a fault of ours, or an
      // object of a shape we did not expect. Retrying cannot help and would hold the stream for
      // ever, so it is recorded as a failure that names it, and the stream goes on.
      if (!(error instanceof QuarantineApiError)) {
        return only(action('failed', `internal error deciding alert ${alert.alert_id}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`));
      }
      // Unreachable, timed out, 429, 5xx: no decision yet. Thrown, so the alert is read again and
      // decided again once the API server answers (respond() is idempotent per alert).
      if (error.retriable && !error.conflict) throw error;
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
    if (scope && subject.namespace !== undefined && !scope.includes(subject.namespace)) return { reason: `namespace ${subject.namespace} is outside the responder's namespaces` };
    const { namespace, nameAggr, workload } = subject;
    const claims = { ...(namespace !== undefined ? { namespace } : {}), ...(nameAggr !== undefined ? { nameAggr } : {}), ...(workload !== undefined ? { workload } : {}) };
    return choosePodForAddress(await this.cluster.podsWithAddress(subject.ip, scope), subject.ip, subject.at, claims);
  }

  /**
   * The replicas rule: the owner's ready replicas (a ReplicaSet's Deployment when it has one),
   * less the owner's pods already quarantined, which the status may still count as ready.
   */
  private async replicaCheck(pod: PodFacts, quarantined: readonly PodFacts[]): Promise<string | undefined> {
    if (this.safety.minHealthyReplicas === 0) return undefined;
    const owner = replicaOwnerOf(pod);
    if (!owner) return undefined;
    const status = await this.cluster.readOwner(owner.kind, pod.namespace, owner.name);
    if (!status) return `cannot check replicas: ${owner.kind.toLowerCase()} ${pod.namespace}/${owner.name} not found`;
    let counted: { kind: 'deployment' | 'statefulset' | 'replicaset'; name: string } = { kind: owner.kind === 'StatefulSet' ? 'statefulset' : 'replicaset', name: owner.name };
    let readyReplicas = status.readyReplicas;
    if (owner.kind === 'ReplicaSet' && status.owner?.kind === 'Deployment') {
      const deployment = await this.cluster.readOwner('Deployment', pod.namespace, status.owner.name);
      if (!deployment) return `cannot check replicas: deployment ${pod.namespace}/${status.owner.name} not found`;
      counted = { kind: 'deployment', name: status.owner.name };
      readyReplicas = deployment.readyReplicas;
    }
    const facts: ReplicaFacts = { ...counted, readyReplicas, quarantined: quarantinedOfOwner(pod, counted, quarantined).length };
    return replicaRefusal(facts, this.safety);
  }

  /**
   * The breaker over the union, by quarantine id, of the quarantines in place (the API: every
   * replica and a restart see them) and those this responder applied lately (which it still
   * counts after they are lifted, however short their TTL).
   */
  private breakerCheck(now: number, quarantined: readonly PodFacts[]): string | undefined {
    const keep = this.safety.windowMs + this.safety.coolDownMs;
    for (const [id, time] of this.appliedLately) if (time <= now - keep) this.appliedLately.delete(id);
    const times = new Map(this.appliedLately);
    for (const pod of quarantined) {
      const id = pod.labels[QUARANTINE_LABEL];
      const time = parseTime(pod.annotations[notes.appliedAt]);
      if (id !== undefined && time !== undefined) times.set(id, time);
    }
    return breakerState([...times.values()], now, this.safety).reason;
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
        // Unreachable, timed out, 429, 5xx: nothing decided, nothing to audit. Thrown, so the
        // caller tries again (the expiry timer at its next tick) instead of a failed undo each time.
        if (error.retriable) throw error;
        if (!error.conflict || attempt >= MAX_ATTEMPTS) return action('failed', `${why}: ${error.message}`);
        try {
          pod = await this.cluster.readPod(pod.namespace, pod.name);
        } catch (reread) {
          if (reread instanceof QuarantineApiError && !reread.retriable) return action('failed', `${why}: ${reread.message}`);
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
