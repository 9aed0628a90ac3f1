import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryApi, ListPage, RawWatchEvent, WatchedKind } from '../../../../enrich/inventory/inventory-api.js';
import { InventoryPublisher, SendOutcomeUnknownError } from '../../../../enrich/inventory/inventory-publisher.js';
import type { BatchHandler, Bus, BusConsumer, BusProducer, OutgoingMessage, PartitionBounds } from '../../../../runtime/bus/bus.js';
import { MemoryBus } from '../../../../runtime/bus/memory-bus.js';
import { KubernetesApiError } from '../../../../runtime/kubernetes/api-request.js';
import type { LeaseApi, LeaseObject } from '../../../../runtime/kubernetes/leader-election.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';
import { topics, topicSpecs } from '../../../../runtime/topics.js';
import { codecFor } from '../../../../schemas/codec.js';
import { waitFor } from '../../../support/wait.js';

const inventoryEvents = codecFor('InventoryEvent');
/** Short, so that deadlines pass in well under a second. */
const election = { leaseDurationSeconds: 1, renewDeadlineMs: 600, retryPeriodMs: 100 };
const leaseNamespace = 'flowsentry';
const leaseName = 'flowsentry-inventory';

/** One Lease in memory, with the API server's optimistic concurrency, and a switch that cuts a candidate off. */
class MemoryLeases implements LeaseApi {
  private lease: LeaseObject | undefined;
  private version = 0;
  unreachable = false;

  async get(): Promise<LeaseObject | undefined> {
    this.check();
    return this.lease && structuredClone(this.lease);
  }

  async create(_namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    this.check();
    if (this.lease) throw new KubernetesApiError(409, 'AlreadyExists', 'exists');
    return this.store(lease);
  }

  async replace(_namespace: string, lease: LeaseObject): Promise<LeaseObject> {
    this.check();
    if (this.lease?.metadata.resourceVersion !== lease.metadata.resourceVersion) throw new KubernetesApiError(409, 'Conflict', 'modified');
    return this.store(lease);
  }

  /** Another candidate takes the Lease over, as if it had expired. */
  takeOver(identity: string): void {
    this.store({ ...this.lease!, spec: { ...this.lease!.spec, holderIdentity: identity, renewTime: new Date().toISOString() } });
  }

  holder(): unknown {
    return this.lease?.spec?.['holderIdentity'];
  }

  private check(): void {
    if (this.unreachable) throw new KubernetesApiError(0, 'ECONNREFUSED', 'unreachable');
  }

  private store(lease: LeaseObject): LeaseObject {
    this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.version) } };
    return structuredClone(this.lease);
  }
}

/** Pods that never change: a list of them, and watches that stay open until aborted. */
class QuietCluster implements InventoryApi {
  constructor(private readonly uids: readonly string[]) {}

  async list(): Promise<ListPage> {
    return {
      resourceVersion: '100',
      items: this.uids.map((uid, i) => ({ metadata: { name: `pod-${uid}`, namespace: 'shop', uid, resourceVersion: String(10 + i), labels: {} }, status: { podIP: `10.2.0.${i + 1}` } })),
    };
  }

  watch(_kind: WatchedKind, options: { signal: AbortSignal }): AsyncIterable<readonly RawWatchEvent[]> {
    const { signal } = options;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<readonly RawWatchEvent[]>>((resolveNext) => {
            const end = () => resolveNext({ done: true, value: undefined });
            if (signal.aborted) end();
            else signal.addEventListener('abort', end, { once: true });
          }),
      }),
    };
  }
}

/** A consumer that joins and then never delivers anything, as a read stuck on an unreachable broker does. */
class StuckConsumer implements BusConsumer {
  started = false;
  closed = false;
  async start(_handler: BatchHandler): Promise<void> {
    this.started = true;
  }
  pause(): void {}
  resume(): void {}
  assignment() {
    return [];
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The in-process bus, except that the inventory topic reads as holding messages that never arrive. */
function stuckBus(inner: MemoryBus) {
  const consumers: StuckConsumer[] = [];
  const bus: Bus = {
    kind: 'stuck',
    ensureTopics: (specs) => inner.ensureTopics(specs),
    producer: () => inner.producer(),
    consumer: () => {
      const consumer = new StuckConsumer();
      consumers.push(consumer);
      return consumer;
    },
    endOffsets: async () => new Map<number, PartitionBounds>([[0, { first: '0', end: '5' }]]),
    close: () => inner.close(),
  };
  return { bus, consumers };
}

/** The in-process bus, with a producer whose sends can be held (acknowledged, and written, only once released). */
function holdingBus(inner: MemoryBus) {
  const state = { hold: false, held: [] as (() => void)[], endOffsetCalls: 0 };
  const producer = inner.producer();
  const holding: BusProducer = {
    send: (topic: string, messages: readonly OutgoingMessage[]) => {
      if (!state.hold) return producer.send(topic, messages);
      return new Promise<void>((resolveSend, rejectSend) => state.held.push(() => producer.send(topic, messages).then(resolveSend, rejectSend)));
    },
    close: () => producer.close(),
  };
  const bus: Bus = {
    kind: 'holding',
    ensureTopics: (specs) => inner.ensureTopics(specs),
    producer: () => holding,
    consumer: (options) => inner.consumer(options),
    endOffsets: (topic) => {
      state.endOffsetCalls++;
      return inner.endOffsets(topic);
    },
    close: () => inner.close(),
  };
  const release = () => {
    for (const send of state.held.splice(0)) send();
  };
  return { bus, state, release };
}

function publisherOn(bus: Bus, leases: LeaseApi, api: InventoryApi = new QuietCluster(['a', 'b'])) {
  const metrics = new MetricsRegistry();
  const errors: unknown[] = [];
  const publisher = new InventoryPublisher({
    bus,
    metrics,
    api,
    leases,
    identity: 'publisher-a',
    leaseNamespace,
    leaseName,
    kinds: ['Pod'],
    election,
    restoreTimeoutMs: 60_000,
    backoff: { baseDelayMs: 20, maxDelayMs: 100 },
    onError: (error) => errors.push(error),
  });
  const leadership = (change: string) => metrics.counter('flowsentry_inventory_leadership_changes_total', '').get({ change });
  const published = () => metrics.counter('flowsentry_inventory_events_total', '').get({ kind: 'Pod', type: 'ADDED' });
  publisher.start();
  return { publisher, metrics, errors, leadership, published };
}

async function memoryBus(): Promise<MemoryBus> {
  const bus = new MemoryBus();
  await bus.ensureTopics(topicSpecs(1));
  return bus;
}

describe('Enrich > inventory > publisher', () => {
  it('close() during a read-back that does not end gives the read up, closes its consumer and releases the Lease at once', { timeout: 10_000 }, async () => {
    const leases = new MemoryLeases();
    const { bus, consumers } = stuckBus(await memoryBus());
    const { publisher, errors } = publisherOn(bus, leases);
    await waitFor(() => consumers[0]?.started, { intervalMs: 10 });
    assert.equal(leases.holder(), 'publisher-a');

    const closing = Date.now();
    await publisher.close();
    const took = Date.now() - closing;
    assert.ok(took < 1_000, `close took ${took} ms`);
    assert.equal(consumers[0]!.closed, true, "the read's consumer is closed");
    assert.equal(leases.holder(), undefined, 'the Lease is released');
    assert.deepEqual(errors, [], 'a read given up on abort is no error');
  });

  it('losing the Lease during a read-back ends the term at once, and election goes on', { timeout: 10_000 }, async () => {
    const leases = new MemoryLeases();
    const { bus, consumers } = stuckBus(await memoryBus());
    const { publisher, leadership } = publisherOn(bus, leases);
    await waitFor(() => consumers[0]?.started, { intervalMs: 10 });

    leases.takeOver('publisher-b');
    await waitFor(() => leadership('lost') === 1, { intervalMs: 10, timeoutMs: 1_000, description: 'the term to end' });
    await waitFor(() => consumers[0]!.closed, { intervalMs: 10, timeoutMs: 1_000, description: "the read's consumer to close" });
    await waitFor(() => publisher.elector.holder === 'publisher-b', { intervalMs: 10, timeoutMs: 1_000, description: 'the next look at the Lease' });
    assert.equal(publisher.leading, false);
    await publisher.close();
    assert.equal(leases.holder(), 'publisher-b', "the successor's Lease is left alone");
  });

  it('a send not acknowledged by the fencing deadline is abandoned as unknown: not counted, the term ends, and the next term reads back only once it settled', { timeout: 15_000 }, async () => {
    const leases = new MemoryLeases();
    const inner = await memoryBus();
    const { bus, state, release } = holdingBus(inner);
    state.hold = true;
    const { publisher, errors, leadership, published } = publisherOn(bus, leases);
    await waitFor(() => state.held.length === 1, { intervalMs: 10, description: 'the first list, sent' });
    const readBacks = state.endOffsetCalls;

    // Cut off from the API server, the leader cannot renew: its deadline comes while the send is in flight.
    leases.unreachable = true;
    await waitFor(() => errors.some((error) => error instanceof SendOutcomeUnknownError), { intervalMs: 10, timeoutMs: 2_000, description: 'the send to be abandoned' });
    assert.equal(leadership('deadline'), 1);
    await waitFor(() => publisher.watcher === undefined, { intervalMs: 10, timeoutMs: 1_000, description: 'the term to end although its send is still held' });
    assert.equal(publisher.leading, false);

    // Back in touch, the Lease is still its own: a new term starts, but waits for the abandoned send before reading back.
    leases.unreachable = false;
    await waitFor(() => leadership('started') === 2, { intervalMs: 10, timeoutMs: 2_000, description: 'a new term' });
    await new Promise((resolveTime) => setTimeout(resolveTime, 200));
    assert.equal(state.endOffsetCalls, readBacks, 'no read-back while an abandoned send may still be written');

    // The abandoned send lands late: the new term reads it back and does not publish those objects again.
    state.hold = false;
    release();
    await waitFor(() => publisher.watcher, { intervalMs: 10, timeoutMs: 2_000, description: 'the new term to watch' });
    await publisher.watcher!.synced();
    assert.ok(state.endOffsetCalls > readBacks);
    assert.equal(published(), 0, 'the late acknowledgement never counted as published, and nothing was published again');
    const written: string[] = [];
    const reader = inner.consumer({ groupId: 'check', topics: [topics.inventory] });
    await reader.start(async (batch) => void written.push(...batch.messages.map((message) => inventoryEvents.decode(message.value).uid)));
    await waitFor(() => written.length === 2, { intervalMs: 10 });
    await reader.close();
    assert.deepEqual(written.sort(), ['a', 'b']);
    await publisher.close();
  });

  it('a send in flight across renewals is acknowledged within the moving deadline and counted', { timeout: 10_000 }, async () => {
    const leases = new MemoryLeases();
    const { bus, state, release } = holdingBus(await memoryBus());
    state.hold = true;
    const { publisher, errors, leadership, published } = publisherOn(bus, leases);
    await waitFor(() => state.held.length === 1, { intervalMs: 10, description: 'the first list, sent' });
    // Longer than the renew deadline: the leader renews meanwhile, so its deadline moves on.
    await new Promise((resolveTime) => setTimeout(resolveTime, election.renewDeadlineMs + 400));
    state.hold = false;
    release();
    await waitFor(() => published() === 2, { intervalMs: 10, timeoutMs: 2_000, description: 'the batch to count as published' });
    assert.equal(publisher.leading, true);
    assert.equal(leadership('deadline'), 0);
    assert.deepEqual(errors, []);
    await publisher.close();
  });
});
