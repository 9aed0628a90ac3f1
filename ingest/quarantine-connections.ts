/**
 * Cuts the open connections of this node's quarantined pods: watches the pods of the node that
 * carry the quarantine label, and deletes the conntrack entries of their addresses
 * (conntrack-flush.ts), once per pod, address and quarantine id (quarantine-flush-plan.ts).
 * A deny policy alone stops new connections only; see conntrack-flush.ts for why.
 *
 * The Kubernetes side is a list then a watch of `/api/v1/pods` with
 * `fieldSelector=spec.nodeName=<node>` and `labelSelector=quarantine.flowsentry.io/id`: the only
 * calls made, so the collector needs nothing beyond `list` and `watch` on pods. The watch resumes
 * from the last resourceVersion it saw (bookmarks keep it fresh); an expired one (410 Gone) is
 * answered with a new list. List and watch failures are retried with back-off, for ever: the
 * collector beside it goes on either way.
 *
 * A flush that fails with a retriable error is retried with back-off while the pod is still
 * quarantined; one that cannot succeed (no CAP_NET_ADMIN, not an address) is counted, reported
 * and given up for that address.
 */
import { ApiException, CoreV1Api, type KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { backoffDelay, type BackoffPolicy, sleep } from '../runtime/backoff.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import type { CommandNames } from './conntrack-exec.js';
import { ConntrackFlushError, flushConntrackAddress } from './conntrack-flush.js';
import { type FlushTarget, flushKey, type PodEventType, type PodSnapshot, QUARANTINE_LABEL, QuarantineFlushPlan, type SkipReason } from './quarantine-flush-plan.js';

export type PodWatchErrorCode =
  /** The resourceVersion to resume from is gone (410): answered with a new list. */
  | 'POD_WATCH_EXPIRED'
  /** The API server refused the credentials or the RBAC (401, 403). */
  | 'POD_WATCH_FORBIDDEN'
  /** Any other failure of the list or the watch: network, server error, an ERROR event. */
  | 'POD_WATCH_FAILED';

/** A failed pod list or watch; always retried. */
export class PodWatchError extends Error {
  override readonly name = 'PodWatchError';
  readonly retriable = true;
  constructor(
    readonly code: PodWatchErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type QuarantineConnectionsEvent =
  | { readonly kind: 'listed'; readonly pods: number; readonly resourceVersion: string }
  | { readonly kind: 'flushed'; readonly target: FlushTarget; readonly deleted: number; readonly durationMs: number }
  | { readonly kind: 'skipped'; readonly reason: SkipReason; readonly pod: string }
  | { readonly kind: 'error'; readonly operation: 'list' | 'watch' | 'flush'; readonly code: string; readonly message: string; readonly retriable: boolean; readonly target?: FlushTarget };

export interface QuarantineConnectionsOptions {
  readonly kubeConfig: KubeConfig;
  /** This node's name, as pods carry it in `spec.nodeName`. */
  readonly node: string;
  /** Network namespace whose conntrack table is flushed; default: the process's own. */
  readonly netns?: string;
  readonly commands?: CommandNames;
  readonly metrics: MetricsRegistry;
  /** Deletes the entries of an address and says how many; default `conntrack -D` (in `netns`). */
  readonly flush?: (address: string) => Promise<number>;
  /** Back-off of list, watch and flush retries; default 200 ms doubling up to 30 s. */
  readonly backoff?: BackoffPolicy;
  /**
   * A watch that brings nothing (no event, no bookmark) for this long is ended here and started
   * again from where it was: a connection cut without a FIN would otherwise hold the cutter deaf
   * until TCP keepalive notices, minutes later. Default 120 s (the API server sends a bookmark
   * about every minute).
   */
  readonly watchIdleMs?: number;
  /** The server ends each watch after this long, plus up to as much again at random; default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /**
   * A second flush of each address this long after the first, while the pod is still quarantined:
   * the label may reach this node before the dataplane has installed the deny policy, and a packet
   * seen in between is tracked anew and allowed. Default 5 s; 0 turns it off.
   */
  readonly reflushAfterMs?: number;
  /** Every flush, skip and error, for the log. */
  readonly onEvent?: (event: QuarantineConnectionsEvent) => void;
  readonly random?: () => number;
}

interface WatchOutcome {
  /** Where to resume; undefined when the server said the version expired. */
  readonly resourceVersion: string | undefined;
  readonly events: number;
}

const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 200, maxDelayMs: 30_000 };

export class QuarantineConnectionCutter {
  private readonly plan: QuarantineFlushPlan;
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  private readonly flush: (address: string) => Promise<number>;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly fieldSelector: string;
  private readonly abort = new AbortController();
  /** Failed attempts so far, by flush key, of the addresses being retried. */
  private readonly flushRetries = new Map<string, number>();
  /** Flush keys whose back-off timer has not fired yet. */
  private readonly waiting = new Set<string>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly metrics;
  private running: Promise<void> | undefined;
  private draining: Promise<void> | undefined;
  private drainAgain = false;
  private listedOnce!: () => void;
  /** Resolves once the first list has been applied (and its flushes started). */
  readonly listed = new Promise<void>((resolveListed) => (this.listedOnce = resolveListed));

  constructor(private readonly options: QuarantineConnectionsOptions) {
    this.plan = new QuarantineFlushPlan(options.node);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(options.kubeConfig);
    this.flush = options.flush ?? ((address) => flushConntrackAddress(address, { ...(options.netns ? { netns: options.netns } : {}), ...(options.commands ? { commands: options.commands } : {}) }));
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.fieldSelector = `spec.nodeName=${options.node}`;
    const { metrics } = options;
    this.metrics = {
      flushes: metrics.counter('flowsentry_ingest_quarantine_flushes_total', "Addresses of quarantined pods whose conntrack entries were deleted."),
      deleted: metrics.counter('flowsentry_ingest_quarantine_entries_deleted_total', 'Conntrack entries of quarantined pods deleted.'),
      errors: metrics.counter('flowsentry_ingest_quarantine_errors_total', 'Failed pod lists, watches and conntrack flushes, by operation and code.'),
      skipped: metrics.counter('flowsentry_ingest_quarantine_skipped_total', 'Quarantined pods not flushed, by reason (host-network, finished, other-node).'),
      pods: metrics.gauge('flowsentry_ingest_quarantine_pods', 'Quarantined pods of this node being watched.'),
    };
  }

  /** Starts the list, the watch and the flushing; returns at once. */
  start(): void {
    this.running ??= this.watchLoop();
  }

  /** Stops the watch and waits for a flush in progress to end. */
  async close(): Promise<void> {
    this.abort.abort();
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.running;
    await this.draining;
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private async watchLoop(): Promise<void> {
    let resourceVersion: string | undefined;
    let retry = 0;
    while (!this.closed) {
      let operation: 'list' | 'watch' = 'list';
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.list();
          if (resourceVersion === undefined) break;
        }
        operation = 'watch';
        const outcome = await this.watchFrom(resourceVersion);
        resourceVersion = outcome.resourceVersion;
        if (outcome.events > 0 || resourceVersion === undefined) retry = 0;
        if (resourceVersion === undefined) this.report({ kind: 'error', operation, code: 'POD_WATCH_EXPIRED', message: 'the watch expired (410 Gone): listing again', retriable: true });
        // a watch that ended after events, or expired, is resumed at once; an empty one after a back-off
        if (outcome.events > 0 || resourceVersion === undefined) continue;
      } catch (error) {
        if (this.closed) break;
        const failure = podWatchErrorOf(error, operation);
        if (failure.code === 'POD_WATCH_EXPIRED') resourceVersion = undefined;
        this.report({ kind: 'error', operation, code: failure.code, message: failure.message, retriable: true });
      }
      await sleep(backoffDelay(++retry, this.backoff, this.random), this.abort.signal);
    }
  }

  /** Lists the node's quarantined pods, replaces the plan's view; returns the list's resourceVersion (undefined when closed meanwhile). */
  private async list(): Promise<string | undefined> {
    const pods: V1Pod[] = [];
    let resourceVersion = '';
    let cursor: string | undefined;
    do {
      const page = await this.unlessClosed(
        this.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector, labelSelector: QUARANTINE_LABEL, limit: 500, ...(cursor ? { _continue: cursor } : {}) }),
      );
      if (page === undefined) return undefined;
      pods.push(...page.items);
      resourceVersion = page.metadata?.resourceVersion ?? '';
      cursor = page.metadata?._continue || undefined;
    } while (cursor);
    for (const { pod, reason } of this.plan.replace(pods)) this.reportSkipped(pod, reason);
    this.afterChange();
    this.report({ kind: 'listed', pods: pods.length, resourceVersion });
    this.listedOnce();
    return resourceVersion;
  }

  /** Watches from `resourceVersion` until the server ends the watch, the version expires, or the cutter closes. */
  private watchFrom(resourceVersion: string): Promise<WatchOutcome> {
    return new Promise((resolveWatch, rejectWatch) => {
      let version: string | undefined = resourceVersion;
      let events = 0;
      let failure: PodWatchError | undefined;
      let request: AbortController | undefined;
      let idle = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const idleMs = this.options.watchIdleMs ?? 120_000;
      const armIdle = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          idle = true;
          this.report({ kind: 'error', operation: 'watch', code: 'POD_WATCH_IDLE', message: `nothing for ${idleMs} ms: watching again from ${version}`, retriable: true });
          request?.abort();
          if (!request) resolveWatch({ resourceVersion: version, events });
        }, idleMs);
      };
      armIdle();
      // the request may not be there yet (it comes once the server sent its headers): end at once anyway
      const stop = () => {
        clearTimeout(idleTimer);
        request?.abort();
        resolveWatch({ resourceVersion: version, events });
      };
      this.abort.signal.addEventListener('abort', stop, { once: true });
      const timeoutSeconds = Math.floor((this.options.watchTimeoutSeconds ?? 300) * (1 + this.random()));
      const onEvent = (type: string, object: unknown) => {
        events++;
        armIdle();
        if (type === 'ERROR') {
          const status = object as { code?: number; message?: string } | undefined;
          if (status?.code === 410) version = undefined;
          else failure = new PodWatchError('POD_WATCH_FAILED', `the watch sent an error: ${status?.message ?? JSON.stringify(object)}`, status?.code);
          request?.abort();
          return;
        }
        const pod = object as V1Pod;
        version = pod.metadata?.resourceVersion ?? version;
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.observe(type, pod);
      };
      const onDone = (error: unknown) => {
        clearTimeout(idleTimer);
        this.abort.signal.removeEventListener('abort', stop);
        if (failure) rejectWatch(failure);
        else if (version === undefined || this.closed || idle || !error) resolveWatch({ resourceVersion: version, events });
        else rejectWatch(error);
      };
      this.watcher
        .watch('/api/v1/pods', { fieldSelector: this.fieldSelector, labelSelector: QUARANTINE_LABEL, resourceVersion, allowWatchBookmarks: true, timeoutSeconds }, onEvent, onDone)
        .then((controller) => {
          request = controller;
          if (this.closed) controller.abort();
        }, onDone);
    });
  }

  private observe(type: PodEventType, pod: V1Pod): void {
    const reason = this.plan.apply(type, pod);
    if (reason) this.reportSkipped(pod, reason);
    this.afterChange();
  }

  private reportSkipped(pod: PodSnapshot, reason: SkipReason): void {
    this.metrics.skipped.inc({ reason });
    this.report({ kind: 'skipped', reason, pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` });
  }

  private afterChange(): void {
    this.metrics.pods.set(this.plan.size);
    this.drain();
  }

  /** Flushes what the plan says is pending, one address at a time; a call during a drain makes it look again. */
  private drain(): void {
    if (this.closed) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = (async () => {
      do {
        this.drainAgain = false;
        const pending = this.plan.pending();
        const keys = new Set(pending.map(flushKey));
        for (const key of this.flushRetries.keys()) if (!keys.has(key)) this.flushRetries.delete(key);
        for (const target of pending) {
          if (this.closed) return;
          if (this.plan.needs(target) && !this.waiting.has(flushKey(target))) await this.flushOne(target);
        }
      } while (this.drainAgain && !this.closed);
    })().finally(() => (this.draining = undefined));
  }

  private async flushOne(target: FlushTarget): Promise<void> {
    const key = flushKey(target);
    const began = performance.now();
    try {
      const deleted = await this.flush(target.address);
      this.plan.settle(target);
      this.flushRetries.delete(key);
      this.metrics.flushes.inc();
      this.metrics.deleted.inc({}, deleted);
      this.report({ kind: 'flushed', target, deleted, durationMs: performance.now() - began });
      this.scheduleReflush(target);
    } catch (error) {
      const failure =
        error instanceof ConntrackFlushError ? error : new ConntrackFlushError('CONNTRACK_FLUSH_FAILED', error instanceof Error ? error.message : String(error), true);
      this.report({ kind: 'error', operation: 'flush', code: failure.code, message: failure.message, retriable: failure.retriable, target });
      if (!failure.retriable) {
        this.plan.settle(target);
        this.flushRetries.delete(key);
        return;
      }
      const retry = (this.flushRetries.get(key) ?? 0) + 1;
      this.flushRetries.set(key, retry);
      this.waiting.add(key);
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.waiting.delete(key);
        this.drain();
      }, backoffDelay(retry, this.backoff, this.random));
      this.retryTimers.add(timer);
    }
  }

  /** One more flush after `reflushAfterMs`, if the pod still holds the address under the same quarantine. */
  private scheduleReflush(target: FlushTarget): void {
    const delay = this.options.reflushAfterMs ?? 5_000;
    if (delay <= 0) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.closed || !this.plan.holds(target)) return;
      const began = performance.now();
      this.flush(target.address).then(
        (deleted) => {
          this.metrics.flushes.inc();
          this.metrics.deleted.inc({}, deleted);
          this.report({ kind: 'flushed', target, deleted, durationMs: performance.now() - began });
        },
        (error: unknown) => {
          const failure = error instanceof ConntrackFlushError ? error : new ConntrackFlushError('CONNTRACK_FLUSH_FAILED', error instanceof Error ? error.message : String(error), true);
          this.report({ kind: 'error', operation: 'flush', code: failure.code, message: failure.message, retriable: false, target });
        },
      );
    }, delay);
    this.retryTimers.add(timer);
  }

  private report(event: QuarantineConnectionsEvent): void {
    if (event.kind === 'error') this.metrics.errors.inc({ operation: event.operation, code: event.code });
    this.options.onEvent?.(event);
  }

  /** `promise`, or undefined as soon as the cutter closes (what it resolves to later is dropped). */
  private unlessClosed<T>(promise: Promise<T>): Promise<T | undefined> {
    if (this.closed) {
      promise.catch(() => undefined);
      return Promise.resolve(undefined);
    }
    return new Promise((resolveRace, rejectRace) => {
      const onAbort = () => resolveRace(undefined);
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          this.abort.signal.removeEventListener('abort', onAbort);
          resolveRace(value);
        },
        (error: unknown) => {
          this.abort.signal.removeEventListener('abort', onAbort);
          rejectRace(error);
        },
      );
    });
  }
}

/** The error of a failed list or watch, by what the server answered. */
export function podWatchErrorOf(error: unknown, operation: 'list' | 'watch'): PodWatchError {
  if (error instanceof PodWatchError) return error;
  const status = error instanceof ApiException ? error.code : (error as { statusCode?: unknown } | null)?.statusCode;
  const message = `pod ${operation} failed: ${error instanceof Error ? error.message : String(error)}`;
  if (typeof status === 'number') {
    if (status === 410) return new PodWatchError('POD_WATCH_EXPIRED', message, status);
    if (status === 401 || status === 403) return new PodWatchError('POD_WATCH_FORBIDDEN', `${message} (HTTP ${status}: the collector needs list and watch on pods)`, status);
    return new PodWatchError('POD_WATCH_FAILED', `${message} (HTTP ${status})`, status);
  }
  return new PodWatchError('POD_WATCH_FAILED', message);
}
