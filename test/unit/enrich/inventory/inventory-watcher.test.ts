import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryApi, ListPage, RawWatchEvent, WatchedKind } from '../../../../enrich/inventory/inventory-api.js';
import { InventoryWatcher, type InventoryWatcherOptions } from '../../../../enrich/inventory/inventory-watcher.js';
import { KubernetesApiError } from '../../../../runtime/kubernetes/api-request.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';
import type { InventoryEvent } from '../../../../schemas/types.js';
import { waitFor } from '../../../support/wait.js';

type PodObject = { metadata: { name: string; namespace: string; uid: string; resourceVersion: string; labels: Record<string, string> }; status: { podIP: string } };

/**
 * An API server for one kind (pods), in memory: a change log with resourceVersions, lists in
 * pages, watches that replay the log after a resourceVersion and then follow it, and the faults
 * a real one has (a dropped watch, a resourceVersion too old).
 */
class FakeCluster implements InventoryApi {
  private rv = 100;
  readonly objects = new Map<string, PodObject>();
  private readonly log: { rv: number; type: string; object: unknown }[] = [];
  /** A watch from before this resourceVersion gets 410 (as an ERROR event, or as the answer when `goneAsAnswer`). */
  oldestWatchable = 0;
  goneAsAnswer = false;
  failLists = false;
  readonly watchesFrom: string[] = [];
  listCalls = 0;
  /** Batches handed to watchers. */
  pulled = 0;
  private epoch = 0;
  private waiters: (() => void)[] = [];

  put(uid: string, labels: Record<string, string> = {}): void {
    const existing = this.objects.get(uid);
    const object: PodObject = { metadata: { name: `pod-${uid}`, namespace: 'shop', uid, resourceVersion: String(++this.rv), labels }, status: { podIP: `10.2.0.${this.objects.size + 1}` } };
    if (existing) object.status = existing.status;
    this.objects.set(uid, object);
    this.append(existing ? 'MODIFIED' : 'ADDED', object);
  }

  remove(uid: string): void {
    const object = this.objects.get(uid)!;
    this.objects.delete(uid);
    this.append('DELETED', { ...object, metadata: { ...object.metadata, resourceVersion: String(++this.rv) } });
  }

  bookmark(): string {
    const rv = String(++this.rv);
    this.log.push({ rv: this.rv, type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: rv } } });
    this.notify();
    return rv;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Ends every open watch, as a dropped connection or the server's timeout does. */
  dropWatches(): void {
    this.epoch++;
    this.notify();
  }

  async list(_kind: WatchedKind, options: { limit: number; continue?: string }): Promise<ListPage> {
    this.listCalls++;
    if (this.failLists) throw new KubernetesApiError(503, 'ServiceUnavailable', 'down');
    const all = [...this.objects.values()].sort((a, b) => (a.metadata.uid < b.metadata.uid ? -1 : 1));
    const from = Number(options.continue ?? 0);
    const next = from + options.limit;
    return { resourceVersion: this.resourceVersion, items: all.slice(from, next).map((object) => structuredClone(object)), ...(next < all.length ? { continue: String(next) } : {}) };
  }

  async *watch(_kind: WatchedKind, options: { resourceVersion: string; signal: AbortSignal }): AsyncGenerator<readonly RawWatchEvent[]> {
    this.watchesFrom.push(options.resourceVersion);
    let at = Number(options.resourceVersion);
    if (at < this.oldestWatchable) {
      if (this.goneAsAnswer) throw new KubernetesApiError(410, 'Gone', 'too old resource version');
      yield [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: `too old resource version: ${at}` } }];
      return;
    }
    const epoch = this.epoch;
    while (!options.signal.aborted && epoch === this.epoch) {
      const pending = this.log.filter((entry) => entry.rv > at);
      if (pending.length > 0) {
        at = pending.at(-1)!.rv;
        this.pulled++;
        yield pending.map((entry) => ({ type: entry.type, object: structuredClone(entry.object) }));
        continue;
      }
      await new Promise<void>((resolveWait) => {
        this.waiters.push(resolveWait);
        options.signal.addEventListener('abort', () => resolveWait(), { once: true });
      });
    }
  }

  private append(type: string, object: PodObject): void {
    this.log.push({ rv: this.rv, type, object: structuredClone(object) });
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

const summary = (events: readonly InventoryEvent[]) => events.map((event) => `${event.type} ${event.uid}@${event.resource_version}`);

function startWatcher(cluster: FakeCluster, options: Partial<InventoryWatcherOptions> = {}) {
  const published: InventoryEvent[] = [];
  const metrics = new MetricsRegistry();
  const watcher = new InventoryWatcher({
    api: cluster,
    kinds: ['Pod'],
    sink: async (events) => void published.push(...events),
    metrics,
    pageSize: 2,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  const stop = new AbortController();
  const running = watcher.run(stop.signal);
  return {
    watcher,
    published,
    metrics,
    stop: async () => {
      stop.abort();
      await running;
    },
  };
}

describe('Enrich > inventory > watcher', () => {
  it('lists in pages, then watches from the list; a dropped watch resumes where it stood, without a gap or a repeat', async () => {
    const cluster = new FakeCluster();
    for (const uid of ['a', 'b', 'c']) cluster.put(uid);
    const run = startWatcher(cluster);
    await run.watcher.synced();
    assert.deepEqual(summary(run.published), ['ADDED a@101', 'ADDED b@102', 'ADDED c@103']);
    const listedAt = cluster.resourceVersion;

    cluster.put('a', { v: '1' });
    await waitFor(() => run.published.length === 4);
    cluster.dropWatches();
    cluster.put('b', { v: '1' });
    cluster.put('d');
    cluster.dropWatches();
    cluster.remove('c');
    const at = cluster.bookmark();
    await waitFor(() => run.published.length === 7);
    cluster.dropWatches();
    await waitFor(() => cluster.watchesFrom.includes(at));
    await run.stop();

    assert.deepEqual(summary(run.published.slice(3)), ['MODIFIED a@104', 'MODIFIED b@105', 'ADDED d@106', 'DELETED c@107']);
    assert.deepEqual(cluster.watchesFrom.slice(0, 2), [listedAt, '104'], 'the first resume starts after the last event published');
    assert.equal(cluster.watchesFrom.at(-1), at, 'a bookmark moves the resume point');
    assert.equal(cluster.listCalls, 2, 'two pages, listed once');
    assert.equal(run.metrics.counter('flowsentry_inventory_relists_total', '').get({ kind: 'Pod', reason: 'start' }), 1);
  });

  for (const form of ['an ERROR event', 'the answer'] as const) {
    it(`on 410 as ${form}, lists again and publishes only what changed meanwhile`, async () => {
      const cluster = new FakeCluster();
      cluster.goneAsAnswer = form === 'the answer';
      for (const uid of ['a', 'b', 'c', 'd']) cluster.put(uid);
      const first = startWatcher(cluster);
      await first.watcher.synced();
      await first.stop();
      const snapshot = first.watcher.snapshot();

      cluster.remove('a');
      cluster.put('b', { relabelled: 'yes' });
      cluster.put('e');
      cluster.put('c', { v: '2' });
      cluster.remove('c');
      cluster.oldestWatchable = Number(cluster.resourceVersion);

      const second = startWatcher(cluster, { restore: snapshot });
      await waitFor(() => second.metrics.counter('flowsentry_inventory_relists_total', '').get({ kind: 'Pod', reason: 'gone' }) === 1);
      await second.stop();
      const events = second.published;
      assert.deepEqual(summary(events).sort(), ['ADDED e@107', 'DELETED a@101', 'DELETED c@103', 'MODIFIED b@106'].sort());
      assert.deepEqual(events.find((event) => event.uid === 'b')!.labels, { relabelled: 'yes' });
      assert.ok(!events.some((event) => event.uid === 'd'), 'nothing for an object that did not change');
      assert.deepEqual(
        second.watcher.snapshot()[0]!.objects.map((event) => event.uid).sort(),
        ['b', 'd', 'e'],
      );
    });
  }

  it('resumes from a snapshot of another watcher without publishing anything twice', async () => {
    const cluster = new FakeCluster();
    cluster.put('a');
    const first = startWatcher(cluster);
    await first.watcher.synced();
    cluster.put('a', { v: '1' });
    await waitFor(() => first.published.length === 2);
    await first.stop();
    cluster.put('a', { v: '2' });
    cluster.put('b');
    const second = startWatcher(cluster, { restore: first.watcher.snapshot() });
    await waitFor(() => second.published.length === 2);
    await second.stop();
    assert.deepEqual(summary(second.published), ['MODIFIED a@103', 'ADDED b@104']);
    assert.equal(cluster.listCalls, 1, 'the second watcher did not list');
  });

  it('reads no further while the sink has not taken the last batch', async () => {
    const cluster = new FakeCluster();
    cluster.put('a');
    let release: () => void = () => undefined;
    let blocked = false;
    const taken: InventoryEvent[] = [];
    const run = startWatcher(cluster, {
      sink: async (events) => {
        taken.push(...events);
        if (blocked) await new Promise<void>((resolveSink) => (release = resolveSink));
      },
    });
    await run.watcher.synced();
    blocked = true;
    cluster.put('a', { v: '1' });
    await waitFor(() => taken.length === 2);
    const pulled = cluster.pulled;
    for (let i = 2; i <= 6; i++) cluster.put('a', { v: String(i) });
    await new Promise((resolveTick) => setTimeout(resolveTick, 50));
    assert.equal(cluster.pulled, pulled, 'no batch read while the sink holds one');
    blocked = false;
    release();
    await waitFor(() => taken.length === 7);
    await run.stop();
    assert.deepEqual(taken.slice(1).map((event) => event.labels?.['v']), ['1', '2', '3', '4', '5', '6']);
  });

  it('publishes again from the last acknowledged position when the sink fails', async () => {
    const cluster = new FakeCluster();
    cluster.put('a');
    let failures = 1;
    const acknowledged: InventoryEvent[] = [];
    const errors: unknown[] = [];
    const run = startWatcher(cluster, {
      sink: async (events) => {
        if (events.some((event) => event.type === 'MODIFIED') && failures-- > 0) throw new Error('bus down');
        acknowledged.push(...events);
      },
      onError: (_kind, error) => errors.push(error),
    });
    await run.watcher.synced();
    cluster.put('a', { v: '1' });
    cluster.put('b');
    await waitFor(() => acknowledged.length === 3);
    await run.stop();
    assert.deepEqual(summary(acknowledged), ['ADDED a@101', 'MODIFIED a@102', 'ADDED b@103']);
    assert.equal(errors.length, 1);
  });

  it('backs off while the API server fails, never in a tight loop', async () => {
    const cluster = new FakeCluster();
    cluster.failLists = true;
    const errors: unknown[] = [];
    const run = startWatcher(cluster, { backoff: { baseDelayMs: 50, maxDelayMs: 1_000 }, random: () => 1, onError: (_kind, error) => errors.push(error) });
    await new Promise((resolveTime) => setTimeout(resolveTime, 800));
    await run.stop();
    // Waits of 50, 100, 200, 400 ms: at most five attempts in 800 ms.
    assert.ok(cluster.listCalls >= 2 && cluster.listCalls <= 5, `${cluster.listCalls} lists`);
    assert.ok(errors.every((error) => error instanceof KubernetesApiError && error.status === 503));
    assert.equal(run.metrics.counter('flowsentry_inventory_watch_restarts_total', '').get({ kind: 'Pod', reason: 'error' }), errors.length);
  });
});
