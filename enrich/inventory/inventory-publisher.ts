import { type BackoffPolicy, backoffDelay, sleep } from '../../runtime/backoff.js';
import type { Bus, BusProducer, IncomingBatch } from '../../runtime/bus/bus.js';
import { readToEnd } from '../../runtime/bus/read-to-end.js';
import { type LeaseApi, LeaderElector, type StoppedLeadingReason } from '../../runtime/kubernetes/leader-election.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import { topics } from '../../runtime/topics.js';
import { codecFor } from '../../schemas/codec.js';
import type { InventoryEvent } from '../../schemas/types.js';
import { type InventoryApi, type WatchedKind, watchedKinds } from './inventory-api.js';
import { InventoryWatcher, type KindState } from './inventory-watcher.js';

/**
 * A send not acknowledged before the leader's fencing deadline: it may or may not have been
 * written, and may still be (the client retries it). The batch does not count as published; the
 * leader stops leading, and whoever leads next reads the topic back and lists again.
 */
export class SendOutcomeUnknownError extends Error {
  readonly code = 'INVENTORY_SEND_OUTCOME_UNKNOWN';
  readonly retriable = false;
  constructor(identity: string, messages: number) {
    super(`${identity}: ${messages} inventory event(s) not acknowledged before the fencing deadline: written or not, unknown`);
    this.name = 'SendOutcomeUnknownError';
  }
}

/** The header naming the publisher that wrote a message (audit, and proof that one leader writes at a time). */
export const publisherHeader = 'flowsentry-publisher';
export const defaultLeaseName = 'flowsentry-inventory';

/** A publisher asked to publish while not leading (its lease ran out): nothing was sent. */
export class NotLeaderError extends Error {
  readonly code = 'INVENTORY_NOT_LEADER';
  readonly retriable = false;
  constructor(identity: string) {
    super(`${identity} is not the inventory leader: nothing published`);
    this.name = 'NotLeaderError';
  }
}

export interface ElectionTimings {
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

export interface InventoryPublisherOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  readonly api: InventoryApi;
  readonly leases: LeaseApi;
  /** This replica's name in the Lease. */
  readonly identity: string;
  readonly leaseNamespace: string;
  readonly leaseName?: string;
  readonly kinds?: readonly WatchedKind[];
  readonly topic?: string;
  readonly election?: ElectionTimings;
  /** Longest a new leader may take to read the inventory topic to its end. Default 5 minutes. */
  readonly restoreTimeoutMs?: number;
  readonly pageSize?: number;
  readonly backoff?: BackoffPolicy;
  readonly watchTimeoutSeconds?: number;
  readonly onError?: (error: unknown) => void;
  readonly now?: () => number;
}

const inventoryEvents = codecFor('InventoryEvent');
const defaultBackoff: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * The inventory publisher: every replica is a candidate for the Lease; the leader alone lists,
 * watches and publishes InventoryEvents to the compacted inventory topic (key = object uid, value
 * = Avro), one batch at a time, waiting for the bus to acknowledge each before reading more.
 *
 * A term of leadership starts by reading the topic to its end: the latest event of each object is
 * what earlier leaders published, so the first list publishes only what changed since — DELETED
 * for objects gone while nobody watched, ADDED/MODIFIED for new or changed ones — and unchanged
 * objects keep their first observed time. The read is given up as soon as the term ends.
 *
 * A term ends when the Lease is lost, not renewed in time, or on close. Sends are fenced by the
 * elector's fencing deadline: none starts after it, and a send is counted as published only when
 * its acknowledgement came before it. A send still unacknowledged at the deadline is abandoned as
 * "outcome unknown" and the leader stops leading; the client may still write it later, which
 * nothing here can prevent (see enrich/README.md for what follows). Before its next term reads the
 * topic back, this replica waits for its own abandoned sends to settle. On close the term ends
 * (its last send acknowledged or abandoned at the deadline) before the Lease is released.
 */
export class InventoryPublisher {
  readonly elector: LeaderElector;
  private readonly producer: BusProducer;
  private readonly topic: string;
  private readonly kinds: readonly WatchedKind[];
  private readonly now: () => number;
  private readonly metrics;
  private term: AbortController | undefined;
  /** Sends abandoned at a fencing deadline and not settled yet. */
  private readonly abandoned = new Set<Promise<void>>();
  /** The terms, one after the other: a new term starts only once the last one has ended. */
  private terms: Promise<void> = Promise.resolve();
  private currentWatcher: InventoryWatcher | undefined;

  constructor(private readonly options: InventoryPublisherOptions) {
    this.topic = options.topic ?? topics.inventory;
    this.kinds = options.kinds ?? watchedKinds;
    this.now = options.now ?? Date.now;
    this.producer = options.bus.producer();
    const m = options.metrics;
    this.metrics = {
      events: m.counter('flowsentry_inventory_events_total', 'InventoryEvents published, by kind and type.'),
      leader: m.gauge('flowsentry_inventory_leader', '1 while this replica leads (publishes), else 0.'),
      leadership: m.counter('flowsentry_inventory_leadership_changes_total', 'Terms started and ended, by change (started, lost, deadline, stopped).'),
      abandoned: m.counter('flowsentry_inventory_sends_abandoned_total', 'Batches not acknowledged before the fencing deadline: written or not, unknown.'),
      restored: m.gauge('flowsentry_inventory_restored_objects', 'Live objects read back from the inventory topic at the start of the current term.'),
    };
    this.metrics.leader.set(0);
    this.elector = new LeaderElector({
      leases: options.leases,
      namespace: options.leaseNamespace,
      name: options.leaseName ?? defaultLeaseName,
      identity: options.identity,
      ...options.election,
      onStartedLeading: () => this.startTerm(),
      onStoppedLeading: (reason) => this.endTerm(reason),
      ...(options.onError ? { onError: options.onError } : {}),
      now: this.now,
    });
  }

  /** Joins the election; publishing starts if and when this replica leads. */
  start(): void {
    this.elector.start();
  }

  get leading(): boolean {
    return this.elector.isLeader;
  }

  /** The watcher of the current term, if one runs. */
  get watcher(): InventoryWatcher | undefined {
    return this.currentWatcher;
  }

  /** Stops publishing, releases the Lease (when held) and closes the producer. */
  async close(): Promise<void> {
    await this.elector.stop();
    await this.terms;
    await this.producer.close();
  }

  private startTerm(): void {
    this.metrics.leader.set(1);
    this.metrics.leadership.inc({ change: 'started' });
    const term = new AbortController();
    this.term = term;
    const number = this.elector.term;
    this.terms = this.terms.then(() => this.runTerm(term.signal, number)).catch((error: unknown) => this.options.onError?.(error));
  }

  private endTerm(reason: StoppedLeadingReason): Promise<void> {
    this.metrics.leader.set(0);
    this.metrics.leadership.inc({ change: reason });
    this.term?.abort();
    return this.terms;
  }

  private async runTerm(signal: AbortSignal, term: number): Promise<void> {
    // Sends abandoned in an earlier term may still be written: read back only once they cannot be.
    if (this.abandoned.size > 0) await untilAborted(Promise.all(this.abandoned), signal);
    if (signal.aborted) return;
    const restore = await this.restoreUntilDone(signal);
    if (!restore || signal.aborted) return;
    const watcher = new InventoryWatcher({
      api: this.options.api,
      kinds: this.kinds,
      sink: (events) => this.publish(events, term),
      metrics: this.options.metrics,
      restore,
      ...(this.options.pageSize ? { pageSize: this.options.pageSize } : {}),
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      ...(this.options.watchTimeoutSeconds ? { watchTimeoutSeconds: this.options.watchTimeoutSeconds } : {}),
      // An abandoned send was reported when it was abandoned.
      onError: (_kind, error) => {
        if (!(error instanceof SendOutcomeUnknownError)) this.options.onError?.(error);
      },
      now: this.now,
    });
    this.currentWatcher = watcher;
    try {
      await watcher.run(signal);
    } finally {
      this.currentWatcher = undefined;
    }
  }

  /** Reads the topic back, retrying with back-off until it succeeds or the term ends. */
  private async restoreUntilDone(signal: AbortSignal): Promise<KindState[] | undefined> {
    for (let failures = 1; !signal.aborted; failures++) {
      try {
        return await this.restore(signal);
      } catch (error) {
        if (signal.aborted) break;
        this.options.onError?.(error);
        await sleep(backoffDelay(failures, this.options.backoff ?? defaultBackoff, Math.random), signal);
      }
    }
    return undefined;
  }

  /** The latest published event of each live object of the watched kinds, from the topic (nothing on a bus that cannot be read to its end). */
  private async restore(signal: AbortSignal): Promise<KindState[]> {
    const latest = new Map<string, InventoryEvent>();
    if (this.options.bus.endOffsets) {
      await readToEnd({
        bus: this.options.bus,
        topic: this.topic,
        groupId: `flowsentry-inventory-restore-${this.options.identity}-${this.now().toString(36)}`,
        timeoutMs: this.options.restoreTimeoutMs ?? 300_000,
        signal,
        onBatch: (batch: IncomingBatch) => {
          for (const message of batch.messages) {
            if (message.value.length === 0) {
              latest.delete(message.key);
              continue;
            }
            try {
              for (const event of inventoryEvents.decodeAll(message.value)) latest.set(event.uid, event);
            } catch {
              // Not an InventoryEvent: the enrich workers send it to the dead-letter topic; nothing to restore from it.
            }
          }
        },
      });
    }
    const byKind = new Map<string, InventoryEvent[]>(this.kinds.map((kind) => [kind, []]));
    let live = 0;
    for (const event of latest.values()) {
      const objects = event.type === 'DELETED' ? undefined : byKind.get(event.kind);
      if (!objects) continue;
      objects.push(event);
      live++;
    }
    this.metrics.restored.set(live);
    return this.kinds.map((kind) => ({ kind, objects: byKind.get(kind)! }));
  }

  /**
   * One batch to the bus, while leading term `term`; resolves once the bus acknowledged it before
   * the fencing deadline. Rejects with SendOutcomeUnknownError when the deadline came first.
   */
  private async publish(events: readonly InventoryEvent[], term: number): Promise<void> {
    const elector = this.elector;
    if (!elector.isLeader || elector.term !== term) throw new NotLeaderError(this.options.identity);
    const headers = { [publisherHeader]: this.options.identity };
    const sent = this.producer.send(
      this.topic,
      events.map((event) => ({ key: event.uid, value: inventoryEvents.encode(event), headers })),
    );
    if (!(await this.ackedBeforeDeadline(sent, term))) {
      const settled = sent.then(
        () => undefined,
        () => undefined,
      );
      this.abandoned.add(settled);
      void settled.then(() => this.abandoned.delete(settled));
      // Not awaited: stepping down waits for this term to end, and this term waits for this send.
      void elector.enforceDeadline();
      this.metrics.abandoned.inc();
      const error = new SendOutcomeUnknownError(this.options.identity, events.length);
      this.options.onError?.(error);
      throw error;
    }
    for (const event of events) this.metrics.events.inc({ kind: event.kind, type: event.type });
  }

  /**
   * Whether `sent` was acknowledged before the fencing deadline of term `term`: the deadline moves
   * on with each renewal while that term lasts, and stays where it last was once the term ended
   * (no successor may take over before it). Rejects as `sent` does when it fails before then.
   */
  private async ackedBeforeDeadline(sent: Promise<void>, term: number): Promise<boolean> {
    const acked = sent.then(() => true);
    acked.catch(() => undefined);
    let deadline = Number.NEGATIVE_INFINITY;
    const deadlineNow = () => {
      if (this.elector.term === term) deadline = Math.max(deadline, this.elector.fencingDeadline);
      return deadline;
    };
    for (;;) {
      const remaining = deadlineNow() - this.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<false>((resolveTimer) => (timer = setTimeout(() => resolveTimer(false), remaining)));
      try {
        if (await Promise.race([acked, expired])) return this.now() < deadlineNow();
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

/** Resolves once `promise` settles, or as soon as `signal` aborts. */
function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolveWait) => {
    if (signal.aborted) return resolveWait();
    const done = () => {
      signal.removeEventListener('abort', done);
      resolveWait();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}
