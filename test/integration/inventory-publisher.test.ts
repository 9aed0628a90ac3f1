import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api, type KubeConfig, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { IdentityTable } from '../../enrich/identity-table.js';
import type { InventoryApi, RawWatchEvent, WatchedKind } from '../../enrich/inventory/inventory-api.js';
import { InventoryPublisher, publisherHeader } from '../../enrich/inventory/inventory-publisher.js';
import { InventoryWatcher, type InventoryWatcherOptions } from '../../enrich/inventory/inventory-watcher.js';
import { KubernetesInventoryApi } from '../../enrich/inventory/kubernetes-inventory-api.js';
import { MemoryBus } from '../../runtime/bus/memory-bus.js';
import { KubernetesApiError } from '../../runtime/kubernetes/api-request.js';
import { KubernetesLeaseApi, type LeaseApi } from '../../runtime/kubernetes/leader-election.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { topics, topicSpecs } from '../../runtime/topics.js';
import { codecFor } from '../../schemas/codec.js';
import type { InventoryEvent } from '../../schemas/types.js';
import { adminKubeConfig, serviceAccountKubeConfig, testNamespace } from '../support/kubernetes.js';
import { requiredEnv, uniqueName, waitFor } from '../support/wait.js';

const inventoryEvents = codecFor('InventoryEvent');
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Short, so that takeovers take seconds: a crashed leader's Lease runs out after 2 s. */
const election = { leaseDurationSeconds: 2, renewDeadlineMs: 1_200, retryPeriodMs: 200 };
const leaseNames = ['lease-one', 'lease-two', 'lease-ip'];

const admin = adminKubeConfig();
const core = admin.makeApiClient(CoreV1Api);

interface Published {
  readonly event: InventoryEvent;
  readonly key: string;
  readonly publisher: string | undefined;
  /** When the bus took it. */
  readonly timestamp: number;
}

/** Everything on the inventory topic of a bus, in order per partition (so per object). */
async function topicReader(bus: MemoryBus) {
  const messages: Published[] = [];
  const consumer = bus.consumer({ groupId: uniqueName('inventory-reader'), topics: [topics.inventory] });
  await consumer.start(async (batch) => {
    for (const message of batch.messages) {
      messages.push({ event: inventoryEvents.decode(message.value), key: message.key, publisher: message.headers?.[publisherHeader], timestamp: message.timestamp });
    }
  });
  return {
    messages,
    of: (uid: string) => messages.filter((message) => message.event.uid === uid),
    inNamespace: (namespace: string) => messages.filter((message) => message.event.namespace === namespace),
    close: () => consumer.close(),
  };
}

/** The real API, with a way to break open watches (as a dropped connection does); records where each watch started and the ERROR statuses the server sent. */
class BreakableApi implements InventoryApi {
  lists = 0;
  readonly watchesFrom: string[] = [];
  readonly errors: unknown[] = [];
  private readonly open = new Set<AbortController>();

  constructor(private readonly inner: InventoryApi) {}

  list(kind: WatchedKind, options: { limit: number; continue?: string; signal: AbortSignal }) {
    this.lists++;
    return this.inner.list(kind, options);
  }

  async *watch(kind: WatchedKind, options: { resourceVersion: string; timeoutSeconds: number; signal: AbortSignal }): AsyncGenerator<readonly RawWatchEvent[]> {
    this.watchesFrom.push(options.resourceVersion);
    const breaker = new AbortController();
    this.open.add(breaker);
    try {
      for await (const batch of this.inner.watch(kind, { ...options, signal: AbortSignal.any([options.signal, breaker.signal]) })) {
        for (const event of batch) if (event.type === 'ERROR') this.errors.push(event.object);
        yield batch;
      }
    } finally {
      this.open.delete(breaker);
    }
  }

  breakWatches(): number {
    const count = this.open.size;
    for (const breaker of this.open) breaker.abort();
    return count;
  }
}

/** Leases through the API server, with a switch that cuts this candidate off from it. */
function cuttableLeases(config: KubeConfig) {
  const inner = new KubernetesLeaseApi(config);
  const state = { cut: false };
  const check = () => {
    if (state.cut) throw new KubernetesApiError(0, 'ECONNREFUSED', 'cut off from the API server');
  };
  const leases: LeaseApi = {
    get: async (namespace, name) => (check(), inner.get(namespace, name)),
    create: async (namespace, lease) => (check(), inner.create(namespace, lease)),
    replace: async (namespace, lease) => (check(), inner.replace(namespace, lease)),
  };
  return { leases, state };
}

const podBody = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } });

async function createPod(namespace: string, name: string, labels: Record<string, string> = {}): Promise<string> {
  const pod = await core.createNamespacedPod({ namespace, body: podBody(name, labels) });
  return pod.metadata!.uid!;
}

const relabel = (namespace: string, name: string, labels: Record<string, string>) => core.patchNamespacedPod({ name, namespace, body: { metadata: { labels } } }, mergePatch);
const deletePod = (namespace: string, name: string) => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
const setPodIp = (namespace: string, name: string, ip: string) =>
  core.patchNamespacedPodStatus({ name, namespace, body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } }, mergePatch);

const createService = (namespace: string, name: string, labels: Record<string, string>) =>
  core.createNamespacedService({ namespace, body: { metadata: { name, labels }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } } });

/**
 * Compacts etcd's history up to `revision`, as the API server itself does every few minutes: a watch
 * from an earlier resourceVersion of a kind read straight from etcd is then answered 410 Gone.
 */
async function compactEtcd(revision: string): Promise<void> {
  const response = await fetch(new URL('/v3/kv/compaction', requiredEnv('KUBERNETES_ETCD_URL')), { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
  if (!response.ok) throw new Error(`etcd compaction to ${revision}: ${response.status} ${await response.text()}`);
}

describe('Enrich > inventory publisher (API server, in-process bus)', () => {
  let home: { name: string; remove: () => Promise<void> };
  let publisherConfig: KubeConfig;
  const clusterRole = uniqueName('fs-inventory-test');
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    home = await testNamespace('fs-inv-home');
    // Exactly the permissions enrich/README.md documents, through a real ServiceAccount token.
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: home.name, body: { metadata: { name: 'flowsentry-inventory' } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name: clusterRole },
        rules: [
          { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes', 'services'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    });
    cleanups.push(() => rbac.deleteClusterRole({ name: clusterRole }));
    await rbac.createClusterRoleBinding({
      body: { metadata: { name: clusterRole }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole }, subjects: [{ kind: 'ServiceAccount', name: 'flowsentry-inventory', namespace: home.name }] },
    });
    cleanups.push(() => rbac.deleteClusterRoleBinding({ name: clusterRole }));
    await rbac.createNamespacedRole({
      namespace: home.name,
      body: {
        metadata: { name: 'lease' },
        rules: [
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: leaseNames, verbs: ['get', 'update'] },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: home.name,
      body: { metadata: { name: 'lease' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lease' }, subjects: [{ kind: 'ServiceAccount', name: 'flowsentry-inventory', namespace: home.name }] },
    });
    publisherConfig = await serviceAccountKubeConfig(home.name, 'flowsentry-inventory');
    await waitFor(() => new KubernetesInventoryApi(publisherConfig).list('EndpointSlice', { limit: 1, signal: new AbortController().signal }), { description: 'the RBAC rules to take effect' });
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await home?.remove();
  });

  async function workNamespace() {
    const namespace = await testNamespace('fs-inv');
    cleanups.push(namespace.remove);
    return namespace.name;
  }

  function publisher(bus: MemoryBus, identity: string, leaseName: string, kinds?: WatchedKind[], leases: LeaseApi = new KubernetesLeaseApi(publisherConfig)) {
    const metrics = new MetricsRegistry();
    const errors: unknown[] = [];
    const instance = new InventoryPublisher({
      bus,
      metrics,
      api: new KubernetesInventoryApi(publisherConfig),
      leases,
      identity,
      leaseNamespace: home.name,
      leaseName,
      ...(kinds ? { kinds } : {}),
      election,
      backoff: { baseDelayMs: 50, maxDelayMs: 500 },
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => instance.close());
    instance.start();
    return { instance, metrics, errors, identity };
  }

  async function busWithTopics() {
    const bus = new MemoryBus();
    await bus.ensureTopics(topicSpecs(3));
    return bus;
  }

  it('publishes a pod ADDED, MODIFIED with its new labels and DELETED, in order, and every kind, under only the RBAC it documents', async (t) => {
    const namespace = await workNamespace();
    const bus = await busWithTopics();
    const reader = await topicReader(bus);
    const one = publisher(bus, 'publisher-one', 'lease-one');
    await waitFor(() => one.instance.watcher, { description: 'the publisher to lead' });
    const started = performance.now();
    await one.instance.watcher!.synced();
    t.diagnostic(`first list of the five kinds published in ${Math.round(performance.now() - started)} ms`);
    await waitFor(() => reader.messages.some((message) => message.event.kind === 'Namespace' && message.event.name === namespace && message.event.type === 'ADDED'), {
      description: 'the namespace, listed',
    });

    const uid = await createPod(namespace, 'web-1', { app: 'web' });
    await waitFor(() => reader.of(uid).length === 1);
    await relabel(namespace, 'web-1', { app: 'web', version: 'v2' });
    await waitFor(() => reader.of(uid).length === 2);
    await deletePod(namespace, 'web-1');
    await waitFor(() => reader.of(uid).at(-1)?.event.type === 'DELETED');

    const service = await core.createNamespacedService({ namespace, body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } } });
    const discovery = admin.makeApiClient(DiscoveryV1Api);
    const slice = await discovery.createNamespacedEndpointSlice({
      namespace,
      body: { metadata: { name: 'web-x1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.250.0.9'] }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    });
    const nodeName = uniqueName('fs-inv-node');
    const node = await core.createNode({ body: { metadata: { name: nodeName } } });
    cleanups.push(() => core.deleteNode({ name: nodeName }));
    await core.patchNodeStatus({ name: nodeName, body: { status: { addresses: [{ type: 'InternalIP', address: '192.168.77.7' }] } } }, mergePatch);
    await core.deleteNode({ name: nodeName });
    await waitFor(() => reader.of(node.metadata!.uid!).some((message) => message.event.type === 'DELETED') && reader.of(slice.metadata!.uid!).length > 0 && reader.of(service.metadata!.uid!).length > 0);
    await reader.close();

    const pod = reader.of(uid);
    // The delete is a MODIFIED (deletionTimestamp set) and then the DELETED.
    assert.deepEqual(
      pod.map((message) => `${message.event.type} ${message.event.labels!['version'] ?? '-'}`),
      ['ADDED -', 'MODIFIED v2', 'MODIFIED v2', 'DELETED v2'],
    );
    assert.deepEqual(pod[1]!.event.labels, { app: 'web', version: 'v2' });
    assert.ok(pod.every((message) => message.key === uid && message.publisher === 'publisher-one' && message.event.namespace === namespace));
    assert.ok(pod[0]!.event.observed_time <= pod[1]!.event.observed_time && pod[1]!.event.observed_time <= pod[2]!.event.observed_time);
    assert.deepEqual(reader.of(service.metadata!.uid!)[0]!.event.ips, [service.spec!.clusterIP!]);
    assert.deepEqual(reader.of(slice.metadata!.uid!)[0]!.event.ips, ['10.250.0.9']);
    assert.deepEqual(
      reader.of(node.metadata!.uid!).map((message) => [message.event.type, message.event.ips]),
      [
        ['ADDED', []],
        ['MODIFIED', ['192.168.77.7']],
        ['DELETED', ['192.168.77.7']],
      ],
    );
    assert.equal(one.metrics.counter('flowsentry_inventory_events_total', '').get({ kind: 'Pod', type: 'DELETED' }) >= 1, true);
    assert.deepEqual(one.errors, [], 'no API call was refused');
    await one.instance.close();
  });

  function watcherOn(api: InventoryApi, options: Partial<InventoryWatcherOptions> = {}) {
    const published: InventoryEvent[] = [];
    const metrics = new MetricsRegistry();
    const watcher = new InventoryWatcher({ api, kinds: ['Pod'], sink: async (events) => void published.push(...events), metrics, backoff: { baseDelayMs: 50, maxDelayMs: 500 }, ...options });
    const stop = new AbortController();
    const running = watcher.run(stop.signal);
    const close = async () => {
      stop.abort();
      await running;
    };
    cleanups.push(close);
    return { watcher, published, metrics, close };
  }

  it('resumes a broken watch from where it stood without a gap or a repeat, and a new watcher from a stored position', async (t) => {
    const namespace = await workNamespace();
    const uid = await createPod(namespace, 'counter', { seq: '0' });
    const api = new BreakableApi(new KubernetesInventoryApi(publisherConfig));
    const first = watcherOn(api);
    await first.watcher.synced();
    const ours = (events: InventoryEvent[]) => events.filter((event) => event.uid === uid);
    let broken = 0;
    for (let seq = 1; seq <= 20; seq++) {
      await relabel(namespace, 'counter', { seq: String(seq) });
      if (seq % 4 === 0) broken += api.breakWatches();
    }
    await waitFor(() => ours(first.published).at(-1)?.labels?.['seq'] === '20', { description: 'the last relabel' });
    assert.deepEqual(
      ours(first.published).map((event) => `${event.type} ${event.labels!['seq']}`),
      ['ADDED 0', ...Array.from({ length: 20 }, (_, i) => `MODIFIED ${i + 1}`)],
    );
    assert.ok(broken >= 4, `${broken} watches broken`);
    assert.equal(api.lists, 1, 'resumed by watching from a resourceVersion, never by listing again');
    t.diagnostic(`${broken} broken watches; resumed from ${api.watchesFrom.length - 1} positions`);
    await first.close();

    // Changes while nobody watches; a new watcher from the stored position sees exactly them.
    const snapshot = first.watcher.snapshot();
    await relabel(namespace, 'counter', { seq: '21' });
    const later = await createPod(namespace, 'later');
    await deletePod(namespace, 'counter');
    const secondApi = new BreakableApi(new KubernetesInventoryApi(publisherConfig));
    const second = watcherOn(secondApi, { restore: snapshot });
    await waitFor(() => second.published.some((event) => event.uid === uid && event.type === 'DELETED'));
    await second.close();
    assert.deepEqual(
      second.published.filter((event) => event.namespace === namespace).map((event) => `${event.type} ${event.name} ${event.labels!['seq'] ?? '-'}`),
      ['MODIFIED counter 21', 'ADDED later -', 'MODIFIED counter 21', 'DELETED counter 21'],
    );
    assert.equal(secondApi.lists, 0);
    assert.equal(second.published.find((event) => event.uid === later)?.type, 'ADDED');
  });

  it('on a 410 from the API server (its position compacted away in etcd) lists again and publishes DELETED, MODIFIED and ADDED for exactly what changed while away', async (t) => {
    // Services are the kind the test cluster serves straight from etcd (--watch-cache-sizes=services#0): a watch cache keeps
    // every event of the last 75 s whatever etcd compacted, so a cached kind answers 410 only for a position older than that.
    const namespace = await workNamespace();
    const uids = new Map<string, string>();
    for (const name of ['s1', 's2', 's3']) uids.set(name, (await createService(namespace, name, { app: name })).metadata!.uid!);
    const first = watcherOn(new KubernetesInventoryApi(publisherConfig), { kinds: ['Service'] });
    await first.watcher.synced();
    await waitFor(() => [...uids.values()].every((uid) => first.published.some((event) => event.uid === uid)));
    await first.close();
    const snapshot = first.watcher.snapshot();

    await core.deleteNamespacedService({ name: 's1', namespace });
    await core.patchNamespacedService({ name: 's2', namespace, body: { metadata: { labels: { app: 's2', moved: 'yes' } } } }, mergePatch);
    const s4 = await createService(namespace, 's4', { app: 's4' });
    // etcd keeps nothing before the last change: the stored position is too old to watch from.
    await compactEtcd(s4.metadata!.resourceVersion!);
    const compacted = performance.now();

    const api = new BreakableApi(new KubernetesInventoryApi(publisherConfig));
    const second = watcherOn(api, { kinds: ['Service'], restore: snapshot });
    await waitFor(() => second.metrics.counter('flowsentry_inventory_relists_total', '').get({ kind: 'Service', reason: 'gone' }) === 1, {
      description: 'a relist after the API server answered 410 (services read straight from etcd: --watch-cache-sizes=services#0)',
      timeoutMs: 10_000,
    });
    await second.watcher.synced();
    t.diagnostic(`etcd compacted to ${s4.metadata!.resourceVersion!}; the watch from ${snapshot[0]!.resourceVersion!} answered 410 and the kind was listed again ${Math.round(performance.now() - compacted)} ms later`);
    await second.close();
    assert.deepEqual(
      api.errors.map((status) => {
        const { code, reason } = status as { code?: unknown; reason?: unknown };
        return { code, reason };
      }),
      [{ code: 410, reason: 'Expired' }],
      'the API server itself answered 410 Gone',
    );
    const ours = second.published.filter((event) => event.namespace === namespace);
    assert.deepEqual(ours.map((event) => `${event.type} ${event.name}`).sort(), ['ADDED s4', 'DELETED s1', 'MODIFIED s2']);
    assert.equal(ours.find((event) => event.name === 's1')!.uid, uids.get('s1'));
    assert.deepEqual(ours.find((event) => event.name === 's2')!.labels, { app: 's2', moved: 'yes' });
    assert.equal(ours.find((event) => event.name === 's4')!.uid, s4.metadata!.uid);
    assert.equal(api.lists, 1);
    assert.equal(api.watchesFrom[0], snapshot[0]!.resourceVersion, 'it first tried to resume from the stored position');
  });

  it('two publishers on one Lease: one writes; when it is cut off or stops, the other takes over and writes', async (t) => {
    const namespace = await workNamespace();
    const bus = await busWithTopics();
    const reader = await topicReader(bus);
    const cuts = new Map<string, { cut: boolean }>();
    const candidates = ['publisher-a', 'publisher-b'].map((identity) => {
      const { leases, state } = cuttableLeases(publisherConfig);
      cuts.set(identity, state);
      return publisher(bus, identity, 'lease-two', ['Pod'], leases);
    });
    const leader = await waitFor(() => candidates.find((candidate) => candidate.instance.leading), { description: 'a leader' });
    const follower = candidates.find((candidate) => candidate !== leader)!;
    await waitFor(() => leader.instance.watcher);
    await leader.instance.watcher!.synced();
    const x = await createPod(namespace, 'x');
    await waitFor(() => reader.of(x).length === 1);
    assert.equal(follower.instance.leading, false);
    assert.deepEqual([...new Set(reader.messages.map((message) => message.publisher))], [leader.identity], 'only the leader wrote');
    const coordination = admin.makeApiClient(CoordinationV1Api);
    const lease = () => coordination.readNamespacedLease({ name: 'lease-two', namespace: home.name });
    assert.equal((await lease()).spec?.holderIdentity, leader.identity);
    const transitionsBefore = (await lease()).spec?.leaseTransitions ?? 0;

    // Cut off from the API server, the leader stops publishing by its renew deadline; the follower waits for the Lease to run out.
    const cutAt = performance.now();
    cuts.get(leader.identity)!.cut = true;
    await waitFor(() => !leader.instance.leading, { intervalMs: 10 });
    const fencedAt = Date.now();
    const fencedAfter = performance.now() - cutAt;
    // Changed while nobody leads: the successor finds it when it compares its first list with the topic.
    await relabel(namespace, 'x', { during: 'handover' });
    await waitFor(() => follower.instance.leading, { intervalMs: 10, timeoutMs: 10_000 });
    const takeover = performance.now() - cutAt;
    t.diagnostic(`leader cut off: stopped publishing after ${Math.round(fencedAfter)} ms; successor leading after ${Math.round(takeover)} ms (lease ${election.leaseDurationSeconds} s, renew deadline ${election.renewDeadlineMs} ms)`);
    await waitFor(() => follower.instance.watcher);
    await follower.instance.watcher!.synced();
    const y = await createPod(namespace, 'y');
    await relabel(namespace, 'x', { after: 'takeover' });
    await waitFor(() => reader.of(y).length === 1 && reader.of(x).length === 3);
    assert.equal(reader.of(y)[0]!.publisher, follower.identity);
    assert.deepEqual(
      reader.of(x).map(({ event, publisher }) => `${event.type} ${publisher} during=${event.labels!['during'] ?? '-'} after=${event.labels!['after'] ?? '-'}`),
      [`ADDED ${leader.identity} during=- after=-`, `MODIFIED ${follower.identity} during=handover after=-`, `MODIFIED ${follower.identity} during=handover after=takeover`],
      'the successor read the topic back: x not published again, only its changes (the one made while nobody led first)',
    );
    const late = reader.messages.filter((message) => message.publisher === leader.identity && message.timestamp > fencedAt);
    assert.deepEqual(late, [], 'nothing written by the old leader after it stopped leading');
    assert.equal((await lease()).spec?.holderIdentity, follower.identity);
    assert.equal((await lease()).spec?.leaseTransitions, transitionsBefore + 1);

    // Back in touch, the old leader follows; the new one stops cleanly and releases, and the old one takes over at once.
    cuts.get(leader.identity)!.cut = false;
    await waitFor(() => leader.instance.elector.holder === follower.identity);
    const closeAt = performance.now();
    await follower.instance.close();
    assert.equal((await lease()).spec?.holderIdentity, undefined, 'released on close');
    await waitFor(() => leader.instance.leading, { intervalMs: 10 });
    t.diagnostic(`leader closed: successor leading ${Math.round(performance.now() - closeAt)} ms after close began`);
    await waitFor(() => leader.instance.watcher);
    await leader.instance.watcher!.synced();
    const z = await createPod(namespace, 'z');
    await waitFor(() => reader.of(z).length === 1);
    assert.equal(reader.of(z)[0]!.publisher, leader.identity);
    assert.equal((await lease()).spec?.leaseTransitions, transitionsBefore + 2);
    assert.equal(reader.of(y).length, 1, 'y not published again by the third term');
    await leader.instance.close();
    await reader.close();
  });

  it('the identity table built from what it publishes follows a relabel and an address taken over by another pod', async () => {
    const namespace = await workNamespace();
    const bus = await busWithTopics();
    const reader = await topicReader(bus);
    const one = publisher(bus, 'publisher-ip', 'lease-ip', ['Pod']);
    await waitFor(() => one.instance.watcher);
    await one.instance.watcher!.synced();
    const ip = `10.${randomInt(100, 200)}.${randomInt(0, 255)}.${randomInt(1, 254)}`;
    const table = new IdentityTable();
    let applied = 0;
    /** Applies what was published up to the event `until` describes, and returns that event's observed time. */
    const caughtUp = async (until: string) => {
      const described = (message: Published) => `${message.event.type} ${message.event.name} ${message.event.ips!.join(',') || '-'} ${message.event.labels!['version'] ?? '-'}`;
      await waitFor(() => reader.inNamespace(namespace).some((message) => described(message) === until), { description: until });
      for (const message of reader.inNamespace(namespace).slice(applied)) table.apply(message.event);
      applied = reader.inNamespace(namespace).length;
      const last = reader.inNamespace(namespace).at(-1)!.event.observed_time;
      // The next change must be observed later than this one (the table orders by observed time).
      await waitFor(() => Date.now() > last, { intervalMs: 1 });
      return last;
    };

    await createPod(namespace, 'api-1', { app: 'api', version: 'v1' });
    await setPodIp(namespace, 'api-1', ip);
    const holdsIp = await caughtUp(`MODIFIED api-1 ${ip} v1`);
    await relabel(namespace, 'api-1', { app: 'api', version: 'v2' });
    const relabelled = await caughtUp(`MODIFIED api-1 ${ip} v2`);
    await deletePod(namespace, 'api-1');
    const deleted = await caughtUp(`DELETED api-1 ${ip} v2`);
    await createPod(namespace, 'intruder');
    await setPodIp(namespace, 'intruder', ip);
    const reused = await caughtUp(`MODIFIED intruder ${ip} -`);
    await one.instance.close();
    await reader.close();

    const at = (time: number) => table.endpointAt(ip, time, time);
    assert.deepEqual([at(holdsIp)?.name, at(holdsIp)?.labels], ['api-1', { app: 'api', version: 'v1' }]);
    assert.deepEqual([at(relabelled)?.name, at(relabelled)?.labels], ['api-1', { app: 'api', version: 'v2' }]);
    assert.equal(at(deleted), undefined, 'nobody holds it between the delete and the new pod');
    assert.deepEqual([at(reused)?.name, at(reused)?.namespace], ['intruder', namespace]);
    assert.equal(at(reused + 60_000)?.name, 'intruder');
    assert.deepEqual(
      reader.inNamespace(namespace).map((message) => `${message.event.type} ${message.event.name}`),
      ['ADDED api-1', 'MODIFIED api-1', 'MODIFIED api-1', 'MODIFIED api-1', 'DELETED api-1', 'ADDED intruder', 'MODIFIED intruder'],
    );
  });
});
