import { type BackoffPolicy, backoffDelay, sleep } from '../../runtime/backoff.js';
import { KubernetesApiError } from '../../runtime/kubernetes/api-request.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import type { InventoryEvent } from '../../schemas/types.js';
import type { InventoryApi, WatchedKind } from './inventory-api.js';
import { type Changes, listedChanges, vanishedObjects, watchBatchChanges, type WatchStatus } from './watch-changes.js';

/**
 * Lists and watches each kind, and hands every change to a sink as InventoryEvents, in order per
 * object, with no change lost and none handed over twice:
 *
 * - a kind is listed, then watched from the list's resourceVersion, with bookmarks, so a quiet
 *   kind's position still moves on;
 * - a watch that ends (the server's timeout, a dropped connection, an error) resumes from the last
 *   resourceVersion whose events the sink took, or that a bookmark showed: the server replays what
 *   came after it, and nothing before;
 * - when that resourceVersion is too old (410 Gone, as an answer or an ERROR event), the kind is
 *   listed again and compared with what was published: DELETED for objects that went away
 *   meanwhile, ADDED or MODIFIED for objects new or with another resourceVersion, nothing for
 *   the rest;
 * - the sink is awaited before the next batch is read (backpressure: the watch stream waits in
 *   the socket, not in memory); errors back off exponentially, never in a tight loop.
 *
 * Time of listed objects: they are published as observed at the time of the list, not at
 * `listObservedTime` (0, "valid since the beginning of time", right for a one-off `kubectl get`
 * file). The identity table places each event at its observed time, and a live publisher lists
 * again after every 410 and every takeover. At 0, a relist that found a pod relabelled would slot
 * the new labels in before everything the table knew of that pod, and the old labels would stay
 * current; a pod that appeared while the watch was down would claim its address back to the
 * beginning of time, over the pod that held it before. The time of the list is when the state is
 * surely true: a change made while the watch was down is dated late, so a flow in that gap gets
 * the state before it or nobody, never a state from its future. Objects published before and
 * unchanged are not published again, so they keep their first observed time (in the compacted
 * topic as well).
 */

/** What is known of one kind: its watch position (none: list first) and the latest published event of each live object. */
export interface KindState {
  readonly kind: WatchedKind;
  readonly resourceVersion?: string;
  readonly objects: readonly InventoryEvent[];
}

/** Takes a batch of events (one kind, in order); resolves once they are durably published. */
export type InventorySink = (events: readonly InventoryEvent[]) => Promise<void>;

export interface InventoryWatcherOptions {
  readonly api: InventoryApi;
  readonly kinds: readonly WatchedKind[];
  readonly sink: InventorySink;
  readonly metrics: MetricsRegistry;
  /** What was published before, per kind (from the inventory topic, or a snapshot): only changes to it are published. */
  readonly restore?: readonly KindState[];
  /** Objects per list page. Default 500. */
  readonly pageSize?: number;
  /** Default 0.5 s doubling up to 30 s. */
  readonly backoff?: BackoffPolicy;
  /** A watch asks the server to end it after between this and twice this. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  readonly onError?: (kind: WatchedKind, error: unknown) => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** An ERROR event ended a watch. */
export class WatchStatusError extends Error {
  readonly code = 'INVENTORY_WATCH_STATUS';
  readonly retriable = true;
  constructor(
    readonly kind: WatchedKind,
    readonly status: WatchStatus,
  ) {
    super(`watch of ${kind}: ${status.code} ${status.reason}: ${status.message}`);
    this.name = 'WatchStatusError';
  }
}

/** The resourceVersion to resume from is too old: list again. */
const isGone = (error: unknown) => (error instanceof KubernetesApiError && error.status === 410) || (error instanceof WatchStatusError && error.status.code === 410);

const defaultBackoff: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };
/** A watch that lasted this long, or delivered anything, was healthy: the next failure backs off from the start again. */
const healthyWatchMs = 1_000;

type Metrics = ReturnType<typeof metricsOf>;

function metricsOf(registry: MetricsRegistry) {
  return {
    relists: registry.counter('flowsentry_inventory_relists_total', 'Lists of a kind compared with what was published, by kind and reason (start, gone).'),
    restarts: registry.counter('flowsentry_inventory_watch_restarts_total', 'Watches that ended and were resumed, by kind and reason (closed, gone, error).'),
    skipped: registry.counter('flowsentry_inventory_skipped_total', 'Watch events and listed objects not published, by kind and reason (bad-object, duplicate).'),
  };
}

export class InventoryWatcher {
  private readonly watches: KindWatch[];

  constructor(options: InventoryWatcherOptions) {
    const metrics = metricsOf(options.metrics);
    this.watches = options.kinds.map((kind) => new KindWatch(kind, options, metrics, options.restore?.find((state) => state.kind === kind)));
  }

  /** Watches every kind until `signal` aborts; resolves once the sink holds nothing more of theirs. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.watches.map((watch) => watch.run(signal)));
  }

  /** Resolves once every kind was listed (and the list's changes published), or resumed from a restored position. */
  synced(): Promise<void> {
    return Promise.all(this.watches.map((watch) => watch.synced)).then(() => undefined);
  }

  /** Where each kind stands: enough for another watcher to go on from here without a gap or a repeat. */
  snapshot(): KindState[] {
    return this.watches.map((watch) => watch.state());
  }
}

/** One kind's list-then-watch loop. */
class KindWatch {
  private readonly known = new Map<string, InventoryEvent>();
  private resourceVersion: string | undefined;
  private relistReason: 'start' | 'gone' = 'start';
  private failures = 0;
  /** Watch events and bookmarks taken since the watch (re)started. */
  private delivered = 0;
  private readonly now: () => number;
  private readonly random: () => number;
  readonly synced: Promise<void>;
  private markSynced!: () => void;

  constructor(
    private readonly kind: WatchedKind,
    private readonly options: InventoryWatcherOptions,
    private readonly metrics: Metrics,
    restore: KindState | undefined,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.synced = new Promise((resolveSynced) => (this.markSynced = resolveSynced));
    for (const event of restore?.objects ?? []) if (event.type !== 'DELETED') this.known.set(event.uid, event);
    this.resourceVersion = restore?.resourceVersion;
    if (this.resourceVersion !== undefined) this.markSynced();
  }

  state(): KindState {
    return { kind: this.kind, ...(this.resourceVersion !== undefined ? { resourceVersion: this.resourceVersion } : {}), objects: [...this.known.values()] };
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let started = this.now();
      this.delivered = 0;
      try {
        if (this.resourceVersion === undefined) {
          await this.relist(signal);
          started = this.now();
        }
        await this.watch(signal);
        this.metrics.restarts.inc({ kind: this.kind, reason: 'closed' });
      } catch (error) {
        if (signal.aborted) break;
        if (isGone(error)) {
          this.resourceVersion = undefined;
          this.relistReason = 'gone';
          this.metrics.restarts.inc({ kind: this.kind, reason: 'gone' });
        } else {
          this.metrics.restarts.inc({ kind: this.kind, reason: 'error' });
          this.options.onError?.(this.kind, error);
        }
      }
      // Only the watch counts: a list followed by a watch that fails at once is no progress to retry at once.
      if (this.delivered > 0 || this.now() - started >= healthyWatchMs) {
        this.failures = 0;
      } else {
        this.failures++;
        await sleep(backoffDelay(this.failures, this.options.backoff ?? defaultBackoff, this.random), signal);
      }
    }
  }

  /** Lists the kind page by page and publishes what differs from `known`. */
  private async relist(signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    let observedTime: number | undefined;
    let token: string | undefined;
    let listedAt: string;
    do {
      const page = await this.options.api.list(this.kind, { limit: this.options.pageSize ?? 500, ...(token !== undefined ? { continue: token } : {}), signal });
      // Taken once the first page is in: the list's snapshot (all pages share it) is no later than that.
      observedTime ??= this.now();
      const changes = listedChanges(this.known, page.items, this.kind, observedTime, seen);
      this.countSkipped(changes);
      await this.publish(changes.events);
      listedAt = page.resourceVersion;
      token = page.continue;
    } while (token !== undefined);
    await this.publish(vanishedObjects(this.known, seen, observedTime), listedAt);
    this.metrics.relists.inc({ kind: this.kind, reason: this.relistReason });
    this.markSynced();
  }

  /** Watches from `resourceVersion` until the stream ends. */
  private async watch(signal: AbortSignal): Promise<void> {
    const base = this.options.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.round(base * (1 + this.random()));
    for await (const batch of this.options.api.watch(this.kind, { resourceVersion: this.resourceVersion!, timeoutSeconds, signal })) {
      const changes = watchBatchChanges(this.known, batch, this.kind, this.now(), this.resourceVersion);
      this.countSkipped(changes);
      if (changes.duplicates > 0) this.metrics.skipped.inc({ kind: this.kind, reason: 'duplicate' }, changes.duplicates);
      await this.publish(changes.events, changes.resourceVersion);
      // A batch that ends in an ERROR is no sign of health: a watch refused at once is retried with back-off.
      if (changes.status) throw new WatchStatusError(this.kind, changes.status);
      this.delivered += batch.length;
    }
  }

  /** Hands events to the sink; once it took them, they are what was published (and the watch may go on from `resourceVersion`). */
  private async publish(events: readonly InventoryEvent[], resourceVersion?: string): Promise<void> {
    if (events.length > 0) await this.options.sink(events);
    for (const event of events) {
      if (event.type === 'DELETED') this.known.delete(event.uid);
      else this.known.set(event.uid, event);
    }
    if (resourceVersion !== undefined) this.resourceVersion = resourceVersion;
  }

  private countSkipped(changes: Changes): void {
    if (changes.problems.length > 0) this.metrics.skipped.inc({ kind: this.kind, reason: 'bad-object' }, changes.problems.length);
  }
}
