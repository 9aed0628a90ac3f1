import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { sleep } from '../backoff.js';
import { kubeJson, KubernetesApiError } from './api-request.js';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, for stages of which exactly one replica
 * may act at a time (the inventory publisher). One candidate holds the Lease and renews it; the
 * others look at it every retry period and take it over once it has expired or was released.
 *
 * Safety comes from two things. Writes carry the resourceVersion they read, so of two candidates
 * that saw the same expired Lease only one update succeeds (the other gets 409 Conflict). And the
 * leader fences itself by time: it counts as leader only until its last successful renewal (timed
 * from before that request went out) plus the renew deadline; a leader cut off from the API server
 * stops acting then, which is before anyone may take over (the lease duration after that same
 * renewal). This assumes the candidates' clocks differ by less than lease duration − renew
 * deadline, as NTP-synchronised nodes do.
 */

/**
 * A candidate's name in the Lease when none is given: the hostname, the process id and a random
 * suffix. The hostname alone is not unique: two processes on one host (or two pods with
 * hostNetwork on one node, whose hostname is the node's) would each take the other's Lease for
 * its own and both lead. In a pod the hostname is the pod's name, which stays readable as the prefix.
 */
export function candidateIdentity(host: string = hostname(), pid: number = process.pid, suffix: string = randomBytes(3).toString('hex')): string {
  return `${host}-${pid}-${suffix}`;
}

/** The part of a Lease that election reads and writes; times as epoch milliseconds. */
export interface LeaseRecord {
  /** Null when nobody holds it (never held, or released). */
  readonly holderIdentity: string | null;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number | null;
  readonly renewTime: number | null;
  readonly leaseTransitions: number;
}

export type LeaseDecision =
  /** No Lease yet: create it, holding it. */
  | { readonly action: 'create'; readonly next: LeaseRecord }
  /** Nobody holds it, or its holder let it expire: take it over. */
  | { readonly action: 'acquire'; readonly next: LeaseRecord }
  /** Ours: renew it. */
  | { readonly action: 'renew'; readonly next: LeaseRecord }
  /** Someone else holds it until `expiresAt`. */
  | { readonly action: 'wait'; readonly holder: string; readonly expiresAt: number };

/** When a Lease held as `record` says expires: its last renewal plus its duration. */
export function leaseExpiresAt(record: LeaseRecord): number {
  return record.renewTime === null ? Number.NEGATIVE_INFINITY : record.renewTime + record.leaseDurationSeconds * 1000;
}

/** What `identity` does about the Lease at `now`. Pure. */
export function decideLease(current: LeaseRecord | undefined, identity: string, now: number, leaseDurationSeconds: number): LeaseDecision {
  if (!current) return { action: 'create', next: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } };
  if (current.holderIdentity === identity) {
    return { action: 'renew', next: { ...current, leaseDurationSeconds, acquireTime: current.acquireTime ?? now, renewTime: now } };
  }
  const expiresAt = leaseExpiresAt(current);
  if (current.holderIdentity !== null && !(expiresAt < now)) return { action: 'wait', holder: current.holderIdentity, expiresAt };
  return { action: 'acquire', next: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: current.leaseTransitions + 1 } };
}

/** The Lease a leader leaves behind on shutdown: held by nobody, so a successor takes it at its next look. */
export function releasedLease(current: LeaseRecord, now: number): LeaseRecord {
  return { ...current, holderIdentity: null, renewTime: now };
}

/** A Lease as JSON (only what election needs is typed). */
export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  spec?: Record<string, unknown>;
}

/** Kubernetes' MicroTime: RFC 3339 with six fractional digits. */
export const microTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

function timeOf(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** The record a Lease holds; a duration it lacks is taken as `defaultDurationSeconds`. */
export function leaseRecordOf(lease: LeaseObject, defaultDurationSeconds: number): LeaseRecord {
  const spec = lease.spec ?? {};
  const holder = spec['holderIdentity'];
  const duration = spec['leaseDurationSeconds'];
  const transitions = spec['leaseTransitions'];
  return {
    holderIdentity: typeof holder === 'string' && holder !== '' ? holder : null,
    leaseDurationSeconds: typeof duration === 'number' && duration > 0 ? duration : defaultDurationSeconds,
    acquireTime: timeOf(spec['acquireTime']),
    renewTime: timeOf(spec['renewTime']),
    leaseTransitions: typeof transitions === 'number' ? transitions : 0,
  };
}

/**
 * The Lease to write: `existing` (its resourceVersion makes the write conditional, and spec
 * fields election does not own are kept) with `record`'s fields; a new Lease when none exists.
 */
export function leaseObjectOf(namespace: string, name: string, existing: LeaseObject | undefined, record: LeaseRecord): LeaseObject {
  const spec: Record<string, unknown> = { ...(existing?.spec ?? {}) };
  delete spec['holderIdentity'];
  if (record.holderIdentity !== null) spec['holderIdentity'] = record.holderIdentity;
  spec['leaseDurationSeconds'] = record.leaseDurationSeconds;
  if (record.acquireTime !== null) spec['acquireTime'] = microTime(record.acquireTime);
  if (record.renewTime !== null) spec['renewTime'] = microTime(record.renewTime);
  spec['leaseTransitions'] = record.leaseTransitions;
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: existing ? { ...existing.metadata } : { name, namespace }, spec };
}

/** Where Leases are read and written: the API server, or a fake in tests. A lost race is a KubernetesApiError with status 409. */
export interface LeaseApi {
  /** Undefined when the Lease does not exist. */
  get(namespace: string, name: string): Promise<LeaseObject | undefined>;
  create(namespace: string, lease: LeaseObject): Promise<LeaseObject>;
  /** Conditional on `lease.metadata.resourceVersion`. */
  replace(namespace: string, lease: LeaseObject): Promise<LeaseObject>;
}

/** Leases on the API server: get, create and update (the only verbs election needs). */
export class KubernetesLeaseApi implements LeaseApi {
  constructor(
    private readonly config: KubeConfig,
    private readonly timeoutMs = 5_000,
  ) {}

  async get(namespace: string, name: string): Promise<LeaseObject | undefined> {
    try {
      return await kubeJson<LeaseObject>(this.config, { path: leasePath(namespace, name), idleTimeoutMs: this.timeoutMs });
    } catch (error) {
      if (error instanceof KubernetesApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  create(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return kubeJson<LeaseObject>(this.config, { method: 'POST', path: leasePath(namespace), body: lease, idleTimeoutMs: this.timeoutMs });
  }

  replace(namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    return kubeJson<LeaseObject>(this.config, { method: 'PUT', path: leasePath(namespace, lease.metadata.name), body: lease, idleTimeoutMs: this.timeoutMs });
  }
}

const leasePath = (namespace: string, name?: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;

/** Election timings that cannot work together. */
export class LeaderElectionConfigError extends Error {
  readonly code = 'LEADER_ELECTION_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'LeaderElectionConfigError';
  }
}

/** Why a leader stopped: another holder seen, no renewal before the deadline, or shutdown. */
export type StoppedLeadingReason = 'lost' | 'deadline' | 'stopped';

export interface LeaderElectorOptions {
  readonly leases: LeaseApi;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** How long a Lease stays valid after its renewal; default 15 s. */
  readonly leaseDurationSeconds?: number;
  /** A leader that has not renewed for this long stops leading; default 10 s, less than the lease duration. */
  readonly renewDeadlineMs?: number;
  /** How often the Lease is renewed or looked at; default 2 s, less than the renew deadline. */
  readonly retryPeriodMs?: number;
  readonly onStartedLeading?: () => void;
  /** Awaited before the Lease is released on stop, so whatever the leader did has ended by then. */
  readonly onStoppedLeading?: (reason: StoppedLeadingReason) => void | Promise<void>;
  /** A failed look or renewal (election goes on). */
  readonly onError?: (error: unknown) => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** Takes part in the election until stopped; see the module comment for the guarantees. */
export class LeaderElector {
  private readonly durationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private leading = false;
  private leadingUntil = Number.NEGATIVE_INFINITY;
  private termsStarted = 0;
  private fence: NodeJS.Timeout | undefined;
  private stoppedLeading: Promise<void> = Promise.resolve();
  private observedHolder: string | null = null;

  constructor(private readonly options: LeaderElectorOptions) {
    this.durationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    const problems: string[] = [];
    if (!Number.isInteger(this.durationSeconds) || this.durationSeconds < 1) problems.push(`lease duration ${this.durationSeconds} s is not a positive whole number of seconds`);
    if (!(this.renewDeadlineMs < this.durationSeconds * 1000)) problems.push(`renew deadline ${this.renewDeadlineMs} ms is not below the lease duration`);
    if (!(this.retryPeriodMs > 0 && this.retryPeriodMs < this.renewDeadlineMs)) problems.push(`retry period ${this.retryPeriodMs} ms is not between 0 and the renew deadline`);
    if (!options.identity) problems.push('the identity is empty');
    if (problems.length > 0) throw new LeaderElectionConfigError(`leader election on ${options.namespace}/${options.name}: ${problems.join('; ')}`);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Leading now: holds the Lease and renewed it within the renew deadline. */
  get isLeader(): boolean {
    return this.leading && this.now() < this.leadingUntil;
  }

  /**
   * While leading, when leading ends unless the Lease is renewed first (its last renewal, timed
   * from before the request went out, plus the renew deadline): the fencing deadline, which is
   * before anyone else may take the Lease over. Negative infinity when not leading.
   */
  get fencingDeadline(): number {
    return this.leading ? this.leadingUntil : Number.NEGATIVE_INFINITY;
  }

  /** Counts the terms this candidate started leading; the current one while leading. */
  get term(): number {
    return this.termsStarted;
  }

  /**
   * Stops leading now when the fencing deadline has passed. The fence timer does the same, but a
   * busy event loop may run it late; whoever finds the deadline passed calls this instead of waiting.
   */
  enforceDeadline(): Promise<void> {
    if (this.leading && this.now() >= this.leadingUntil) return this.stepDown('deadline');
    return this.stoppedLeading;
  }

  /** Who held the Lease at the last look (null: nobody). */
  get holder(): string | null {
    return this.observedHolder;
  }

  get identity(): string {
    return this.options.identity;
  }

  /** Stops taking part: a leader stops leading (awaiting `onStoppedLeading`), then releases the Lease. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    if (this.leading) await this.stepDown('stopped');
    await this.stoppedLeading;
    try {
      await this.release();
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await this.attempt();
      if (signal.aborted) break;
      // Candidates look a little irregularly, so that they do not all ask at the same instant.
      await sleep(this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + 0.25 * this.random()), signal);
    }
  }

  /** One look at the Lease: create, take over or renew it when that is ours to do. */
  private async attempt(): Promise<void> {
    const { leases, namespace, name, identity } = this.options;
    const at = this.now();
    // A fence timer that ran late: leading lapsed, and a renewal now would carry it on across the gap.
    if (this.leading && at >= this.leadingUntil) await this.stepDown('deadline');
    try {
      const lease = await leases.get(namespace, name);
      const decision = decideLease(lease && leaseRecordOf(lease, this.durationSeconds), identity, at, this.durationSeconds);
      if (decision.action === 'wait') {
        this.observedHolder = decision.holder;
        if (this.leading) await this.stepDown('lost');
        return;
      }
      const next = leaseObjectOf(namespace, name, lease, decision.next);
      if (decision.action === 'create') await leases.create(namespace, next);
      else await leases.replace(namespace, next);
      this.observedHolder = identity;
      this.renewed(at);
    } catch (error) {
      // 409: another candidate wrote first; the next look says who holds it.
      if (!(error instanceof KubernetesApiError && error.status === 409)) this.options.onError?.(error);
      if (this.leading && this.now() >= this.leadingUntil) await this.stepDown('deadline');
    }
  }

  private renewed(at: number): void {
    this.leadingUntil = at + this.renewDeadlineMs;
    clearTimeout(this.fence);
    this.fence = setTimeout(() => void this.stepDown('deadline'), Math.max(0, this.leadingUntil - this.now()));
    if (this.leading) return;
    this.leading = true;
    this.termsStarted++;
    // Taken while stopping: not announced; stop() releases it.
    if (!this.stopping.signal.aborted) this.options.onStartedLeading?.();
  }

  private stepDown(reason: StoppedLeadingReason): Promise<void> {
    if (!this.leading) return this.stoppedLeading;
    this.leading = false;
    this.leadingUntil = Number.NEGATIVE_INFINITY;
    clearTimeout(this.fence);
    const callback = this.options.onStoppedLeading;
    this.stoppedLeading = this.stoppedLeading
      .then(() => callback?.(reason))
      .catch((error: unknown) => this.options.onError?.(error));
    return this.stoppedLeading;
  }

  /** Clears the holder when the Lease is still ours (conditional: a successor's Lease is left alone). */
  private async release(): Promise<void> {
    const { leases, namespace, name, identity } = this.options;
    const lease = await leases.get(namespace, name);
    if (!lease) return;
    const record = leaseRecordOf(lease, this.durationSeconds);
    if (record.holderIdentity !== identity) return;
    await leases.replace(namespace, leaseObjectOf(namespace, name, lease, releasedLease(record, this.now())));
    this.observedHolder = null;
  }
}
