import { type WatchedKind, watchedKinds } from '../enrich/inventory/inventory-api.js';
import { KubernetesInventoryApi } from '../enrich/inventory/kubernetes-inventory-api.js';
import { defaultLeaseName, InventoryPublisher } from '../enrich/inventory/inventory-publisher.js';
import { createBus } from '../runtime/bus/select.js';
import { kubeConfigFromEnv, podNamespace } from '../runtime/kubernetes/kube-config.js';
import { candidateIdentity, KubernetesLeaseApi } from '../runtime/kubernetes/leader-election.js';
import { logger } from '../runtime/log.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topics, topicSpecs } from '../runtime/topics.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { kafkaStageSettings, runUntilStopped } from './stage-process.js';

const usage = `flowsentry inventory [options]

Publishes the cluster's inventory to ${topics.inventory} (compacted, keyed by object uid)
for the enrich workers: Pods, Namespaces, Nodes, Services and EndpointSlices, listed and then
watched, as InventoryEvents. Run two replicas or more: they elect a leader through a
coordination.k8s.io/v1 Lease, and only the leader watches and publishes; when it stops, another
takes over and publishes only what changed meanwhile. Needs KAFKA_BROKERS and an API server
(in a pod its ServiceAccount; else KUBERNETES_URL and KUBERNETES_TOKEN, or KUBECONFIG), with
get/list/watch on those kinds and get/create/update on Leases in the Lease's namespace. Runs until
SIGTERM or SIGINT, then stops publishing, releases the Lease (a successor takes over at once) and
exits 0.

options:
  --lease-name NAME        the Lease (default ${defaultLeaseName})
  --lease-namespace NS     its namespace (default: the pod's own namespace, else flowsentry)
  --identity ID            this replica's name in the Lease, unique among the candidates (default:
                           hostname-pid-random, so two processes on one host never share one;
                           in a pod the hostname is the pod's name)
  --kinds LIST             comma-separated kinds to publish (default ${watchedKinds.join(',')})
  --partitions N           partitions of topics it creates when missing (default 6)

example:
  KAFKA_BROKERS=kafka:9092 flowsentry inventory --lease-namespace flowsentry --kinds Pod,Node,Service,EndpointSlice`;

/** Kinds by any spelling kubectl users write: `Pod`, `pod`, `pods`. */
function kindOf(name: string): WatchedKind | undefined {
  const wanted = name.trim().toLowerCase();
  return watchedKinds.find((kind) => kind.toLowerCase() === wanted || `${kind.toLowerCase()}s` === wanted);
}

export function parseKinds(list: string | undefined, problems: string[]): WatchedKind[] {
  if (list === undefined) return [...watchedKinds];
  const names = list.split(',').filter((name) => name.trim() !== '');
  const kinds: WatchedKind[] = [];
  for (const name of names) {
    const kind = kindOf(name);
    if (!kind) problems.push(`--kinds: '${name.trim()}' is not one of ${watchedKinds.join(', ')}`);
    else if (!kinds.includes(kind)) kinds.push(kind);
  }
  if (names.length === 0) problems.push('--kinds: name at least one kind');
  return kinds;
}

const inventoryOptions = {
  'lease-name': { type: 'string' },
  'lease-namespace': { type: 'string' },
  identity: { type: 'string' },
  kinds: { type: 'string' },
  partitions: { type: 'string' },
} as const;

export const inventoryCommand: CliCommand = {
  name: 'inventory',
  summary: 'publish the Kubernetes inventory (list + watch) to the inventory topic, one leader at a time',
  usage,
  options: inventoryOptions,
  async run(args) {
    const values = parseOptions('inventory', usage, args, inventoryOptions);
    if (!values) return 2;
    const problems: string[] = [];
    const kinds = parseKinds(values.kinds, problems);
    const leaseName = values['lease-name'] ?? defaultLeaseName;
    const leaseNamespace = values['lease-namespace'] ?? podNamespace() ?? 'flowsentry';
    const identity = values.identity ?? candidateIdentity();
    if (leaseName === '') problems.push('--lease-name: empty');
    if (identity === '') problems.push('--identity: empty');
    const { partitions, endpoints } = kafkaStageSettings('inventory', values.partitions, problems);
    let kubeConfig;
    try {
      kubeConfig = kubeConfigFromEnv();
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
    if (problems.length > 0 || !kubeConfig) {
      console.error(optionProblems('inventory', problems));
      return 2;
    }
    const log = logger('inventory');
    const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-inventory' });
    const metrics = new MetricsRegistry();
    const publisher = new InventoryPublisher({
      bus,
      metrics,
      api: new KubernetesInventoryApi(kubeConfig),
      leases: new KubernetesLeaseApi(kubeConfig),
      identity,
      leaseName,
      leaseNamespace,
      kinds,
      onError: (error) => log.error(error instanceof Error ? error.message : String(error), { error }),
    });
    return runUntilStopped({
      name: 'inventory',
      bus,
      metrics,
      start: async () => {
        await bus.ensureTopics(topicSpecs(partitions));
        publisher.start();
      },
      started: () => `${identity} is a candidate for the Lease ${leaseNamespace}/${leaseName}; the leader publishes ${kinds.join(', ')}`,
      close: () => publisher.close(),
    });
  },
};
