/**
 * The options that choose and configure the sink's outlets, shared by `flowsentry sink` and
 * `flowsentry replay`: OpenSearch (connection from the environment, see
 * sink/opensearch/opensearch-client.ts) and CloudWatch Logs (AWS settings from the environment).
 */
import { CloudWatchConfigError, CloudWatchOutlet } from '../sink/cloudwatch/cloudwatch-outlet.js';
import type { FlowLineFormat } from '../sink/cloudwatch/flow-lines.js';
import type { LogNamingPreset } from '../sink/cloudwatch/log-names.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { openSearchClient, openSearchConnectionFromEnv, type OpenSearchConnection } from '../sink/opensearch/opensearch-client.js';
import { OpenSearchOutlet } from '../sink/opensearch/opensearch-outlet.js';
import { defaultRetentionDays, type RetentionDays } from '../sink/opensearch/opensearch-setup.js';
import type { Outlet } from '../sink/outlet.js';

export const outletOptionSpecs = {
  opensearch: { type: 'string' },
  'index-prefix': { type: 'string' },
  retention: { type: 'string' },
  replicas: { type: 'string' },
  cloudwatch: { type: 'string' },
  'cloudwatch-naming': { type: 'string' },
  'cloudwatch-format': { type: 'string' },
  'cloudwatch-retention': { type: 'string' },
  emf: { type: 'boolean' },
} as const;

export const outletUsage = `  --opensearch URL         write to OpenSearch at URL (credentials: OPENSEARCH_USERNAME/PASSWORD,
                           OPENSEARCH_CA_FILE, OPENSEARCH_SIGV4=es|aoss)
  --index-prefix NAME      first word of index, template and policy names (default flowsentry)
  --retention LIST         days kept per kind, e.g. flows=14,alerts=365,actions=365 (the defaults);
                           an ISM policy where the cluster has the plugin, else an hourly deletion job
  --replicas N             replicas of new indices (default 1)
  --cloudwatch CLUSTER     write to CloudWatch Logs: a log group for CLUSTER, a stream per node,
                           alerts and actions to streams of their own
  --cloudwatch-naming N    default (/flowsentry/<cluster>/flows, <node>) or tigera
                           (tigera-flowlogs-<cluster>, <node>_Flowlogs)
  --cloudwatch-format F    calico (the Calico text line, default) or json
  --cloudwatch-retention D retention of the log group in days (default 30)
  --emf                    also per-minute, per-namespace CloudWatch metrics (Embedded Metric Format)`;

type OutletValues = { [K in keyof typeof outletOptionSpecs]?: (typeof outletOptionSpecs)[K]['type'] extends 'boolean' ? boolean : string };

const retentionWords: Readonly<Record<string, keyof RetentionDays>> = { flows: 'flow', alerts: 'alert', actions: 'action' };

/** `flows=14,alerts=365`: days per kind, the rest at their defaults. */
export function parseRetention(text: string | undefined, problems: string[]): RetentionDays {
  const days = { ...defaultRetentionDays };
  for (const part of text ? text.split(',') : []) {
    const [word, value] = part.split('=').map((piece) => piece.trim());
    const kind = retentionWords[word ?? ''];
    const number = Number(value);
    if (!kind || !Number.isInteger(number) || number < 1) problems.push(`--retention: '${part}' is not flows|alerts|actions=<days>`);
    else days[kind] = number;
  }
  return days;
}

export interface ConfiguredOutlets {
  readonly outlets: Outlet[];
  /** Puts templates and retention in place (OpenSearch). */
  start(): Promise<void>;
  /** `opensearch http://… (prefix flowsentry), cloudwatch /flowsentry/prod/flows`. */
  describe(): string;
}

/**
 * The outlets the options name; problems are added to `problems`. With neither `--opensearch`
 * nor `--cloudwatch`, OpenSearch at OPENSEARCH_URL when `openSearchFromEnv` is set.
 */
export function outletsFromOptions(values: OutletValues, problems: string[], metrics: MetricsRegistry, openSearchFromEnv: boolean): ConfiguredOutlets {
  const retentionDays = parseRetention(values.retention, problems);
  const replicas = values.replicas === undefined ? 1 : Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 0) problems.push(`--replicas: '${values.replicas}' is not a whole number`);
  let connection: OpenSearchConnection | undefined;
  try {
    const fromEnv = openSearchConnectionFromEnv();
    if (values.opensearch) connection = { ...fromEnv, url: values.opensearch };
    else if (openSearchFromEnv && values.cloudwatch === undefined) connection = fromEnv;
  } catch (error) {
    problems.push((error as Error).message);
  }
  const outlets: Outlet[] = [];
  const descriptions: string[] = [];
  const prefix = values['index-prefix'] ?? 'flowsentry';
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) problems.push(`--index-prefix: '${prefix}' is not a lower-case index name`);
  let openSearch: OpenSearchOutlet | undefined;
  if (connection) {
    openSearch = new OpenSearchOutlet({
      client: openSearchClient(connection),
      ownsClient: true,
      metrics,
      naming: { prefix },
      retentionDays,
      templateSettings: { shards: 1, replicas, refreshInterval: '5s' },
    });
    outlets.push(openSearch);
    descriptions.push(`opensearch ${connection.url} (prefix ${prefix})`);
  }
  if (values.cloudwatch !== undefined) {
    const retention = values['cloudwatch-retention'] === undefined ? undefined : Number(values['cloudwatch-retention']);
    try {
      const cloudWatch = new CloudWatchOutlet({
        cluster: values.cloudwatch,
        metrics,
        ...(values['cloudwatch-naming'] ? { naming: values['cloudwatch-naming'] as LogNamingPreset } : {}),
        ...(values['cloudwatch-format'] ? { format: values['cloudwatch-format'] as FlowLineFormat } : {}),
        ...(retention !== undefined ? { retentionDays: retention } : {}),
        ...(values.emf ? { emf: true } : {}),
      });
      outlets.push(cloudWatch);
      descriptions.push(`cloudwatch ${cloudWatch.logGroup}`);
    } catch (error) {
      if (!(error instanceof CloudWatchConfigError)) throw error;
      problems.push(...error.problems.map((problem) => `--cloudwatch: ${problem}`));
    }
  }
  return {
    outlets,
    start: async () => openSearch?.start(),
    describe: () => descriptions.join(', '),
  };
}
