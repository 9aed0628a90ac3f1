/**
 * `npx tsx bench/quarantine.ts [pods]` (or `npm run bench -- quarantine`; default 30 pods): the
 * time from the flow that completes the evidence to the quarantine in the API server, through the
 * real detect and respond workers (in-process bus) and the real API server. Needs KUBERNETES_URL
 * (the test services); without it, says so and exits 0.
 *
 * For each pod in turn: an enriched flow from it to an address on the threat feed is put on the
 * bus, and the time until a watch of the API server sees the pod's quarantine label is taken.
 * Beside it, in the same run, the baseline: the same label set on another pod by one merge patch,
 * as seen by the same watch — the floor of any quarantine that writes to the API server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch, type V1Pod } from '@kubernetes/client-node';
import { startFeeds } from '../cli/feed-options.js';
import { DetectWorker } from '../detect/detect-worker.js';
import { MemoryNotifier } from '../detect/notify/memory-notifier.js';
import { QUARANTINE_LABEL, QuarantineResponder } from '../detect/quarantine/index.js';
import { RespondWorker } from '../detect/respond-worker.js';
import { enrichedMessages } from '../enrich/enrich-worker.js';
import { MemoryBus } from '../runtime/bus/memory-bus.js';
import { kubeConfigFromEnv } from '../runtime/kubernetes/kube-config.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topics, topicSpecs } from '../runtime/topics.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../test/support/enriched-flows.js';
import { report, withBaseline } from './report.js';

const PODS = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 30);
const percentile = (values: readonly number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((values.length * p) / 100) - 1)]!;

async function main(): Promise<void> {
  if (!process.env.KUBERNETES_URL) {
    console.log('# quarantine: KUBERNETES_URL is not set (npm run services -- up kubernetes; eval "$(npm run -s services -- env)"): skipped');
    return;
  }
  const kubeConfig = kubeConfigFromEnv();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const namespace = `bench-quarantine-${randomBytes(3).toString('hex')}`;
  const policyName = `bench-quarantine-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-bench-'));
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  const metrics = new MetricsRegistry();
  const bus = new MemoryBus();
  try {
    const pods = Array.from({ length: PODS }, (_, i) => deploymentPod(namespace, 'shop', `10.93.${Math.floor(i / 200)}.${10 + (i % 200)}`, `q${i}`));
    const plain = Array.from({ length: PODS }, (_, i) => `plain-${i}`);
    for (const name of [...pods.map((pod) => pod.name!), ...plain]) {
      await core.createNamespacedPod({ namespace, body: { metadata: { name, labels: { app: 'shop' } }, spec: { containers: [{ name: 'app', image: 'registry.example/shop:1' }] } } });
    }
    const seen = new Map<string, number>();
    const watch = await new Watch(kubeConfig).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (_type: string, pod: V1Pod) => {
        if (pod.metadata?.labels?.[QUARANTINE_LABEL] && !seen.has(pod.metadata.name!)) seen.set(pod.metadata.name!, performance.now());
      },
      () => undefined,
    );
    const waitSeen = async (name: string) => {
      const deadline = performance.now() + 30_000;
      while (!seen.has(name)) {
        if (performance.now() > deadline) throw new Error(`no label on ${name} within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return seen.get(name)!;
    };

    // Baseline: one merge patch of the label, seen by the watch.
    const baseline: number[] = [];
    for (const name of plain) {
      const began = performance.now();
      await core.patchNamespacedPod({ namespace, name, body: { metadata: { labels: { [QUARANTINE_LABEL]: 'bench' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      baseline.push((await waitSeen(name)) - began);
    }

    const feed = join(dir, 'feed.txt');
    writeFileSync(feed, '203.0.113.0/24 c2\n');
    const feeds = await startFeeds([feed], 600_000, metrics);
    await bus.ensureTopics(topicSpecs(2));
    const detect = new DetectWorker({ bus, metrics, learnMs: 0, feeds: () => feeds?.current() });
    const responder = new QuarantineResponder({
      kubeConfig,
      policyName,
      namespaces: [namespace],
      policy: { rules: [{ name: 'c2', match: { detectors: ['ioc'] }, backend: 'calico', ttlMs: 3_600_000, dryRun: false }] },
      safety: { maxPerWindow: PODS + 1 },
    });
    const respond = new RespondWorker({ bus, metrics, notifier: () => new MemoryNotifier(), responder });
    await detect.start();
    await respond.start();
    const producer = bus.producer();
    const latencies: number[] = [];
    for (const pod of pods) {
      const began = performance.now();
      await producer.send(topics.flowsEnriched, enrichedMessages(topics.flowsEnriched, [enrichedFlow(pod, publicAddress('203.0.113.66'), { at: Date.now(), port: 443 })]));
      latencies.push((await waitSeen(pod.name!)) - began);
    }
    watch.abort();
    await respond.close();
    await detect.close();
    await feeds?.close();

    report(
      'quarantine',
      [
        withBaseline('flow → quarantine p50', percentile(latencies, 50), 'ms', 'label patch p50', percentile(baseline, 50)),
        withBaseline('flow → quarantine p99', percentile(latencies, 99), 'ms', 'label patch p99', percentile(baseline, 99)),
        { name: 'flow → quarantine max', value: Math.max(...latencies), unit: 'ms' },
      ],
      { pods: PODS, backend: 'calico', bus: 'in-process', goal: 'p99 < 2000 ms' },
    );
  } finally {
    await bus.close();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    await custom.deleteClusterCustomObject({ group: 'crd.projectcalico.org', version: 'v1', plural: 'globalnetworkpolicies', name: policyName }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
