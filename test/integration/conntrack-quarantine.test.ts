/**
 * Cutting a quarantined pod's open connections, against the real kernel and a real API server.
 *
 * A Calico-style routed dataplane in network namespaces (test/support/netns.ts): pods 1..4 behind
 * a node namespace whose nftables ruleset tracks connections, as every dataplane's does. A "policy"
 * table stands for what a deny policy on pod A (pod 1) installs: accept established connections,
 * then drop what comes from or goes to pod A. It stops new connections but not the open one;
 * deleting pod A's conntrack entries in the node namespace does. Then the same through the
 * Kubernetes API: the quarantine label on a pod object of the test's node (its status.podIP set
 * to pod A's address; no kubelet runs) makes the watcher flush the node namespace.
 *
 * Needs root, ip/nft/conntrack, and the test cluster (KUBERNETES_URL ...): without them it fails.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type KubeConfig, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { flushConntrackAddress } from '../../ingest/conntrack-flush.js';
import { type QuarantineConnectionsEvent, QuarantineConnectionCutter } from '../../ingest/quarantine-connections.js';
import { QUARANTINE_LABEL } from '../../ingest/quarantine-flush-plan.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { adminKubeConfig, serviceAccountKubeConfig, testNamespace } from '../support/kubernetes.js';
import { assertNetnsCapable, createDataplane, type Dataplane, must, removeStaleNamespaces } from '../support/netns.js';
import { uniqueName, waitFor } from '../support/wait.js';

/** Echoes every line back as `ack:<line>` and prints what it got. */
const SERVER = `
const server = require('net').createServer((s) => {
  s.setNoDelay(true);
  let rest = '';
  s.on('data', (d) => {
    const lines = (rest + d).split('\\n');
    rest = lines.pop();
    for (const line of lines) { console.log(JSON.stringify({ got: line })); s.write('ack:' + line + '\\n'); }
  });
  s.on('error', () => {});
});
server.listen(8080, () => console.log(JSON.stringify({ ready: true })));
`;

/** Opens connections and writes on them as told on stdin (JSON lines); prints what happens. */
const CLIENT = `
const net = require('net');
const sockets = new Map();
const out = (o) => console.log(JSON.stringify(o));
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  if (c.op === 'open') {
    const s = net.connect({ host: c.host, port: c.port });
    s.setNoDelay(true);
    let settled = false;
    const settle = (o) => { if (!settled) { settled = true; clearTimeout(timer); out(o); } };
    const timer = setTimeout(() => { settle({ id: c.id, open: false, error: 'timeout' }); s.destroy(); }, c.timeoutMs);
    s.once('connect', () => { sockets.set(c.id, s); settle({ id: c.id, open: true, sport: s.localPort }); });
    s.on('error', (e) => settle({ id: c.id, open: false, error: e.code }));
    let rest = '';
    s.on('data', (d) => {
      const lines = (rest + d).split('\\n');
      rest = lines.pop();
      for (const l of lines) out({ id: c.id, ack: l });
    });
  } else if (c.op === 'send') {
    sockets.get(c.id).write(c.text + '\\n');
  }
});
out({ ready: true });
`;

type Line = Record<string, unknown>;

/** A helper process inside a network namespace, talking JSON lines on stdin and stdout. */
class Peer {
  readonly lines: Line[] = [];
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {}

  static async start(ns: string, script: string): Promise<Peer> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new Peer(child);
    let rest = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) if (part.startsWith('{')) peer.lines.push(JSON.parse(part) as Line);
    });
    child.stderr!.on('data', (chunk: Buffer) => (peer.stderr += chunk.toString('utf8')));
    await peer.next((line) => line.ready === true, `a helper in ${ns} to start`).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    return peer;
  }

  tell(command: Line): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  has(match: (line: Line) => boolean): boolean {
    return this.lines.some(match);
  }

  next(match: (line: Line) => boolean, description: string, timeoutMs = 10_000): Promise<Line> {
    return waitFor(
      () => {
        if (this.child.exitCode !== null) throw new Error(`helper exited: ${this.stderr.trim()}`);
        return this.lines.find(match);
      },
      { timeoutMs, intervalMs: 10, description },
    );
  }

  /** Opens a connection; resolves with whether it opened within `timeoutMs`. */
  async open(id: string, host: string, timeoutMs = 5_000): Promise<Line> {
    this.tell({ op: 'open', id, host, port: 8080, timeoutMs });
    return this.next((line) => line.id === id && 'open' in line, `connection ${id} to open or fail`, timeoutMs + 5_000);
  }

  /** Writes `text` on connection `id` and waits for the echo. */
  async roundTrip(id: string, text: string): Promise<void> {
    this.tell({ op: 'send', id, text });
    await this.next((line) => line.id === id && line.ack === `ack:${text}`, `the echo of '${text}' on ${id}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise<void>((resolveClose) => this.child.once('close', () => resolveClose()));
    this.child.kill('SIGKILL');
    await closed;
  }
}

/** How long a write on a cut connection is given to arrive (TCP retransmits it within ~1 s). */
const SILENCE_MS = 2_000;

const delay = (ms: number) => new Promise((resolveDelay) => setTimeout(resolveDelay, ms));

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('Ingest > quarantine > open connections (root, network namespaces, Kubernetes API)', () => {
  let dp: Dataplane;
  const peers: Peer[] = [];
  let clientA: Peer, serverB: Peer, clientC: Peer;
  let podA: string, podB: string, podD: string;
  let namespace: { name: string; remove: () => Promise<void> } | undefined;
  const cutters: QuarantineConnectionCutter[] = [];
  const clusterObjects: (() => Promise<unknown>)[] = [];

  /** What a deny policy on pod A puts in the node's ruleset: established connections first, then the drop. */
  const installPolicy = () =>
    dp.nft(
      dp.node,
      `table inet fspolicy {
        chain forward {
          type filter hook forward priority filter; policy accept;
          ct state established,related accept
          ip saddr ${podA} drop
          ip daddr ${podA} drop
        }
      }`,
    );
  const removePolicy = () => dp.exec(dp.node, ['nft', 'delete', 'table', 'inet', 'fspolicy']);
  const entriesOf = async (ip: string) => (await dp.exec(dp.node, ['conntrack', '-L', '-f', 'ipv4', '-s', ip]).catch(() => '')).trim();

  /** Asserts that a write on `id` reaches nobody within SILENCE_MS, and that pod A cannot open anything new meanwhile. */
  async function assertCut(id: string, text: string): Promise<void> {
    clientA.tell({ op: 'send', id, text });
    const [fresh] = await Promise.all([clientA.open(`${id}-new`, podB, 1_500), delay(SILENCE_MS)]);
    assert.equal(serverB.has((line) => line.got === text), false, `'${text}' written on the cut connection reached pod B`);
    assert.equal(clientA.has((line) => line.id === id && line.ack === `ack:${text}`), false, 'no echo came back');
    assert.equal(fresh.open, false, 'a new connection from pod A is refused by the policy');
  }

  before(async () => {
    await assertNetnsCapable();
    await removeStaleNamespaces();
    dp = await createDataplane({ pods: 4, subnet: '10.214.0' });
    [podA, podB, , podD] = dp.pods.map((pod) => pod.ip) as [string, string, string, string];
    // the node's own dataplane: it tracks every forwarded connection from the start
    await dp.nft(
      dp.node,
      `table inet fsnode {
        chain forward {
          type filter hook forward priority filter - 10; policy accept;
          ct state established,related counter accept
        }
      }`,
    );
    serverB = await Peer.start(dp.pods[1]!.ns, SERVER);
    peers.push(serverB);
    peers.push(await Peer.start(dp.pods[3]!.ns, SERVER));
    clientA = await Peer.start(dp.pods[0]!.ns, CLIENT);
    peers.push(clientA);
    clientC = await Peer.start(dp.pods[2]!.ns, CLIENT);
    peers.push(clientC);
    assert.equal((await clientC.open('c1', podD)).open, true);
    await clientC.roundTrip('c1', 'hello-from-c');
  });

  after(async () => {
    const steps: (() => Promise<unknown>)[] = [
      ...cutters.map((cutter) => () => cutter.close()),
      ...peers.map((peer) => () => peer.stop()),
      ...clusterObjects,
      async () => {
        if (!namespace) return;
        // no controller empties a deleted namespace in the test cluster: the pods go first
        await adminKubeConfig().makeApiClient(CoreV1Api).deleteCollectionNamespacedPod({ namespace: namespace.name, gracePeriodSeconds: 0 });
        await namespace.remove();
      },
      async () => {
        if (!dp) return;
        await dp.destroy();
        const left = await must(['ip', 'netns', 'list']);
        assert.ok(!left.includes(dp.prefix), `namespaces ${dp.prefix}-* are gone`);
      },
    ];
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  });

  it('a deny policy leaves an open connection passing; flushing pod A’s conntrack entries cuts it, and only it', async (t) => {
    assert.equal((await clientA.open('a1', podB)).open, true);
    await clientA.roundTrip('a1', 'before-policy');

    await installPolicy();
    const refused = await clientA.open('a1-probe', podB, 1_500);
    assert.equal(refused.open, false, 'the policy refuses a new connection from pod A');
    await clientA.roundTrip('a1', 'policy-in-force');
    assert.match(await entriesOf(podA), /ESTABLISHED/, 'the open connection passes on its conntrack entry');

    const began = performance.now();
    const deleted = await flushConntrackAddress(podA, { netns: dp.node });
    t.diagnostic(`flushed ${deleted} entr${deleted === 1 ? 'y' : 'ies'} of ${podA} in ${(performance.now() - began).toFixed(1)} ms`);
    assert.ok(deleted >= 1, `deleted ${deleted}`);

    await assertCut('a1', 'after-flush');
    await clientC.roundTrip('c1', 'other-pods-after-flush');
    assert.equal(await flushConntrackAddress('10.214.0.250', { netns: dp.node }), 0, 'an address with no entries is no error');
  });

  it('the quarantine label on the pod object makes the node watcher cut the connection', async (t) => {
    // the policy lifted, a new connection from pod A opens; the policy back, it still passes
    await removePolicy();
    assert.equal((await clientA.open('a2', podB)).open, true);
    await clientA.roundTrip('a2', 'before-quarantine');
    await installPolicy();
    await clientA.roundTrip('a2', 'policy-in-force');

    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    namespace = await testNamespace('fs-qcut');
    const node = uniqueName('fs-qcut-node');
    const collector = await collectorKubeConfig(admin, namespace.name);
    await core.createNamespacedPod({
      namespace: namespace.name,
      body: { metadata: { name: 'pod-a' }, spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
    });
    await core.patchNamespacedPodStatus(
      { name: 'pod-a', namespace: namespace.name, body: { status: { phase: 'Running', podIP: podA, podIPs: [{ ip: podA }] } } },
      mergePatch,
    );

    const events: (QuarantineConnectionsEvent & { at: number })[] = [];
    const metrics = new MetricsRegistry();
    const cutter = new QuarantineConnectionCutter({ kubeConfig: collector, node, netns: dp.node, metrics, onEvent: (event) => events.push({ ...event, at: performance.now() }) });
    cutters.push(cutter);
    cutter.start();
    await cutter.listed;
    assert.deepEqual(
      events.filter((event) => event.kind !== 'listed'),
      [],
      'a pod without the label is not listed (the watch selects the label)',
    );

    const quarantineId = uniqueName('q');
    const patchedAt = performance.now();
    await core.patchNamespacedPod({ name: 'pod-a', namespace: namespace.name, body: { metadata: { labels: { [QUARANTINE_LABEL]: quarantineId } } } }, mergePatch);
    const flushed = await waitFor(() => events.find((event) => event.kind === 'flushed'), { description: 'the watcher to flush pod A', intervalMs: 5 });
    assert.equal(flushed.kind, 'flushed');
    if (flushed.kind !== 'flushed') return;
    t.diagnostic(
      `label patch → flush done: ${(flushed.at - patchedAt).toFixed(0)} ms (the conntrack commands: ${flushed.durationMs.toFixed(0)} ms); ${flushed.deleted} entr${flushed.deleted === 1 ? 'y' : 'ies'} deleted`,
    );
    assert.deepEqual({ ...flushed.target, uid: '' }, { uid: '', namespace: namespace.name, name: 'pod-a', quarantineId, address: podA });
    assert.ok(flushed.deleted >= 1, `deleted ${flushed.deleted}`);

    await assertCut('a2', 'after-quarantine');
    await clientC.roundTrip('c1', 'other-pods-after-quarantine');
    assert.equal(metrics.counter('flowsentry_ingest_quarantine_flushes_total', '').get(), 1);
    assert.equal(metrics.counter('flowsentry_ingest_quarantine_entries_deleted_total', '').get(), flushed.deleted);
    assert.deepEqual(
      events.filter((event) => event.kind === 'error'),
      [],
      'the collector needed nothing but list and watch on pods',
    );
  });

  it('the watcher flushes an address given after the label, under a new quarantine id again, and nothing of other nodes', async () => {
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const ns = namespace?.name ?? (namespace = await testNamespace('fs-qcut')).name;
    const node = uniqueName('fs-qcut-node');
    const flushes: string[] = [];
    const events: QuarantineConnectionsEvent[] = [];
    const cutter = new QuarantineConnectionCutter({
      kubeConfig: adminKubeConfig(),
      node,
      metrics: new MetricsRegistry(),
      flush: async (address) => {
        flushes.push(address);
        return 1;
      },
      onEvent: (event) => events.push(event),
    });
    cutters.push(cutter);
    cutter.start();
    await cutter.listed;

    const create = async (name: string, onNode: string, labels: Record<string, string>, hostNetwork = false) => {
      await core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name, labels }, spec: { nodeName: onNode, hostNetwork, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
      });
    };
    const setIp = (name: string, ip: string) =>
      core.patchNamespacedPodStatus({ name, namespace: ns, body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } } }, mergePatch);
    const label = (name: string, value: string | null) =>
      core.patchNamespacedPod({ name, namespace: ns, body: { metadata: { labels: { [QUARANTINE_LABEL]: value } } } }, mergePatch);

    await create('elsewhere', uniqueName('fs-qcut-other'), { [QUARANTINE_LABEL]: 'q1' });
    await setIp('elsewhere', '10.215.9.9');
    await create('host', node, { [QUARANTINE_LABEL]: 'q1' }, true);
    await setIp('host', '10.215.0.1');
    await create('late', node, { [QUARANTINE_LABEL]: 'q1' });
    await waitFor(() => events.find((event) => event.kind === 'skipped'), { description: 'the host-network pod to be skipped' });
    assert.deepEqual(flushes, [], 'a labelled pod without an address: nothing to flush yet');
    await setIp('late', '10.215.0.7');
    await waitFor(() => flushes.length === 1, { description: 'the late address to be flushed' });

    await label('late', 'q2');
    await waitFor(() => flushes.length === 2, { description: 'a flush under the new quarantine id' });
    await label('late', null);
    await label('late', 'q2');
    await waitFor(() => flushes.length === 3, { description: 'a flush after the pod came back into quarantine' });
    assert.deepEqual(flushes, ['10.215.0.7', '10.215.0.7', '10.215.0.7'], 'neither the other node’s pod nor the host-network pod was flushed');
    assert.deepEqual(
      events.filter((event) => event.kind === 'skipped').map((event) => event.kind === 'skipped' && [event.reason, event.pod]),
      [['host-network', `${ns}/host`]],
    );
  });

  /** A client that may only list and watch pods, across the cluster: what the collector's RBAC grants. */
  async function collectorKubeConfig(admin: KubeConfig, ns: string): Promise<KubeConfig> {
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const name = uniqueName('fs-qcut-collector');
    await rbac.createClusterRole({ body: { metadata: { name }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }] } });
    clusterObjects.push(() => rbac.deleteClusterRole({ name }));
    await rbac.createClusterRoleBinding({
      body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: ns }] },
    });
    clusterObjects.push(() => rbac.deleteClusterRoleBinding({ name }));
    const config = await serviceAccountKubeConfig(ns, 'default');
    const asCollector = config.makeApiClient(CoreV1Api);
    await waitFor(() => asCollector.listPodForAllNamespaces({ limit: 1 }).then(() => true), { description: 'the binding to take effect' });
    return config;
  }
});
