import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { runCollector } from '../ingest/collector.js';
import { QuarantineConnectionCutter } from '../ingest/quarantine-connections.js';
import { sourceTypes, type CollectSettings } from '../ingest/source-registry.js';
import type { Bus, BusProducer } from '../runtime/bus/bus.js';
import { KinesisBus } from '../runtime/bus/kinesis-bus.js';
import { createBus } from '../runtime/bus/select.js';
import { endpointsFromEnv } from '../runtime/endpoints.js';
import { kubeConfigFromEnv } from '../runtime/kubernetes/kube-config.js';
import { logger } from '../runtime/log.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { opsServerSettings } from '../runtime/ops/ops-server.js';
import { topics } from '../runtime/topics.js';
import { configuredOptions, optionProblems, type CliCommand } from './command.js';
import { JsonLinesProducer } from './json-lines-producer.js';
import { runUntilStopped } from './stage-process.js';

const outlets = ['kafka', 'kinesis', 'stdout'] as const;
type Outlet = (typeof outlets)[number];

const usage = `flowsentry collect --source <${Object.keys(sourceTypes).join('|')}> [options]

sources:
${Object.entries(sourceTypes)
  .map(([name, type]) => `  ${name.padEnd(12)} ${type.summary}`)
  .join('\n')}

options:
  --file PATH            input file (repeat for several VPC files)
  --follow               keep reading as the file grows (calico-file)
  --checkpoint PATH      where the read position is kept, so a restart resumes after it
  --format F             calico-file: text (default) or json; VPC: v2 (default) .. v5, or the header line
  --stream NAME          vpc-kinesis: the Kinesis stream (repeatable)
  --group NAME           vpc-kinesis: consumer group for checkpoints (default flowsentry-collect)
  --checkpoint-dir DIR   Kinesis checkpoints and leases (default .flowsentry/kinesis-checkpoints)
  --local ADDR           conntrack: a pod or host address or CIDR of this node (repeatable)
  --interval SECONDS     conntrack: poll and flush interval (default 10)
  --aggregation A        conntrack: no-source-port (default, as Calico) or tuple
  --deny-set F/T/S[/C]   conntrack: the nftables set (family/table/set[/counter]) that counts denied attempts
  --enable-accounting    conntrack: turn on nf_conntrack_acct instead of failing when it is off
  --netns NAME           conntrack: read (and --cut-quarantined: flush) another network namespace (ip netns exec)
  --cut-quarantined      also delete the conntrack entries of this node's quarantined pods (label
                         quarantine.flowsentry.io/id), so their open connections meet the deny policy;
                         needs --node or $NODE_NAME, a Kubernetes API (list and watch on pods), CAP_NET_ADMIN
  --node NAME            this node's name, the key of every message (default $NODE_NAME or the host name)
  --bus B                where flows go: kafka (default when KAFKA_BROKERS is set), kinesis, or stdout
                         (JSON lines; the default otherwise)
  --flows-per-message N  flows per bus message (default 250)

Runs until its input ends (a file read to its end without --follow) or SIGTERM/SIGINT, then sends
the flows in hand and exits 0; /metrics, /healthz and /readyz on FLOWSENTRY_SERVER_PORT (9464).

examples:
  flowsentry collect --source calico-file --file /var/log/calico/flowlogs/flows.log --bus stdout
  KAFKA_BROKERS=kafka:9092 flowsentry collect --source calico-file --file flows.log --follow --checkpoint flows.pos
  KAFKA_BROKERS=kafka:9092 flowsentry collect --source conntrack --local 10.0.0.0/16 --cut-quarantined --node "$NODE_NAME"
  KAFKA_BROKERS=kafka:9092 flowsentry collect --source vpc-kinesis --stream vpc-flow-logs`;

export class CollectConfigError extends Error {
  override readonly name = 'CollectConfigError';
  constructor(readonly problems: readonly string[]) {
    super(optionProblems('collect', problems));
  }
}

interface CollectPlan {
  readonly settings: CollectSettings;
  readonly outlet: Outlet;
  readonly flowsPerMessage: number;
  /** --cut-quarantined: the node whose quarantined pods' connections are cut, and the API to watch them on. */
  readonly cutQuarantined?: { readonly node: string; readonly kubeConfig: KubeConfig };
}

const collectOptions = {
  source: { type: 'string' },
  file: { type: 'string', multiple: true },
  follow: { type: 'boolean' },
  checkpoint: { type: 'string' },
  'checkpoint-dir': { type: 'string' },
  format: { type: 'string' },
  stream: { type: 'string', multiple: true },
  group: { type: 'string' },
  node: { type: 'string' },
  bus: { type: 'string' },
  'flows-per-message': { type: 'string' },
  local: { type: 'string', multiple: true },
  netns: { type: 'string' },
  interval: { type: 'string' },
  aggregation: { type: 'string' },
  'deny-set': { type: 'string' },
  'enable-accounting': { type: 'boolean' },
  'cut-quarantined': { type: 'boolean' },
} as const;

/** Reads and checks every option at once, before anything is opened. */
export function planCollect(args: readonly string[], env: NodeJS.ProcessEnv = process.env, options: { configSection?: boolean } = {}): CollectPlan {
  let values;
  try {
    // `run --source` plans its collector from its own options only: the collect section is the collect command's.
    values = options.configSection === false ? parseArgs({ args: [...args], strict: true, allowPositionals: false, options: collectOptions }).values : configuredOptions('collect', args, collectOptions);
  } catch (error) {
    throw new CollectConfigError([error instanceof Error ? error.message : String(error)]);
  }
  const problems: string[] = [];
  const type = values.source === undefined ? undefined : sourceTypes[values.source];
  if (!type) problems.push(`--source: ${values.source === undefined ? 'missing' : `unknown source '${values.source}'`}; one of ${Object.keys(sourceTypes).join(', ')}`);
  const outlet = (values.bus ?? (env.KAFKA_BROKERS ? 'kafka' : 'stdout')) as Outlet;
  if (!outlets.includes(outlet)) problems.push(`--bus: '${values.bus}' is not one of ${outlets.join(', ')}`);
  if (outlet === 'kafka' && !env.KAFKA_BROKERS) problems.push('--bus kafka: KAFKA_BROKERS is not set');
  const flowsPerMessage = Number(values['flows-per-message'] ?? 250);
  if (!Number.isInteger(flowsPerMessage) || flowsPerMessage < 1) problems.push(`--flows-per-message: '${values['flows-per-message']}' is not a positive integer`);
  const checkpointDir = values['checkpoint-dir'] ?? '.flowsentry/kinesis-checkpoints';
  const settings: CollectSettings = {
    source: values.source ?? '',
    node: values.node ?? env.NODE_NAME ?? hostname(),
    files: values.file ?? [],
    follow: values.follow ?? false,
    checkpoint: values.checkpoint,
    format: values.format,
    streams: values.stream ?? [],
    group: values.group ?? 'flowsentry-collect',
    kinesisBus: () => new KinesisBus({ checkpoints: checkpointDir }),
    local: values.local ?? [],
    netns: values.netns,
    intervalSeconds: Number(values.interval ?? 10),
    aggregation: values.aggregation ?? 'no-source-port',
    denySet: values['deny-set'],
    enableAccounting: values['enable-accounting'] ?? false,
  };
  if (type) problems.push(...type.check(settings));
  const cutQuarantined = values['cut-quarantined'] ? cutQuarantinedPlan(values.node ?? env.NODE_NAME, env, problems) : undefined;
  opsServerSettings(env, problems);
  if (problems.length > 0) throw new CollectConfigError(problems);
  return { settings, outlet, flowsPerMessage, ...(cutQuarantined ? { cutQuarantined } : {}) };
}

/** The node must be the pods' spec.nodeName (the host name may differ), so no guess is made. */
function cutQuarantinedPlan(node: string | undefined, env: NodeJS.ProcessEnv, problems: string[]): CollectPlan['cutQuarantined'] {
  if (!node) problems.push("--cut-quarantined: give --node or set NODE_NAME (the pods' spec.nodeName, from the downward API)");
  try {
    const kubeConfig = kubeConfigFromEnv(env);
    return node ? { node, kubeConfig } : undefined;
  } catch (error) {
    problems.push(`--cut-quarantined: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

async function openOutlet(outlet: Outlet): Promise<{ producer: BusProducer; bus?: Bus }> {
  if (outlet === 'stdout') return { producer: new JsonLinesProducer(process.stdout) };
  const bus = createBus(endpointsFromEnv(), { kind: outlet, clientId: 'flowsentry-collect' });
  await bus.ensureTopics([
    { name: topics.flowsRaw, partitions: 6 },
    { name: topics.deadLetters, partitions: 1 },
  ]);
  return { producer: bus.producer(), bus };
}

export const collectCommand: CliCommand = {
  name: 'collect',
  summary: 'read flows from a node or AWS source and publish RawFlow records to the bus',
  usage,
  options: collectOptions,
  async run(args) {
    let plan: CollectPlan;
    try {
      plan = planCollect(args);
    } catch (error) {
      if (error instanceof CollectConfigError) {
        console.error(error.message);
        return 2;
      }
      throw error;
    }
    const { settings, outlet, flowsPerMessage } = plan;
    const source = sourceTypes[settings.source]!.create(settings);
    const metrics = new MetricsRegistry();
    const cutLog = logger('cut-quarantined');
    let opened: { producer: BusProducer; bus?: Bus } | undefined;
    let cutter: QuarantineConnectionCutter | undefined;
    let collecting: Promise<void> | undefined;
    // Runs until the source ends (a file read to its end) or a signal: closing the source ends
    // the collector after the flows in hand are sent.
    return runUntilStopped({
      name: 'collect',
      metrics,
      start: async () => {
        opened = await openOutlet(outlet);
        cutter = plan.cutQuarantined
          ? new QuarantineConnectionCutter({
              ...plan.cutQuarantined,
              metrics,
              ...(settings.netns ? { netns: settings.netns } : {}),
              onEvent: (event) => (event.kind === 'error' ? cutLog.warn : cutLog.info)(event.kind, { ...event }),
            })
          : undefined;
        cutter?.start();
        collecting = runCollector({
          source,
          producer: opened.producer,
          node: settings.node,
          flowsTopic: topics.flowsRaw,
          deadLetterTopic: topics.deadLetters,
          flowsPerMessage,
          metrics,
        });
        collecting.catch(() => undefined);
      },
      started: () => `collecting ${settings.source} flows of ${settings.node} to ${outlet}`,
      running: () => collecting!,
      close: async () => {
        await source.close();
        await collecting?.catch(() => undefined);
        await cutter?.close();
        await opened?.producer.close();
        await opened?.bus?.close();
      },
    });
  },
};
