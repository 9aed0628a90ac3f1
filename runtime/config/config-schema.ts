/**
 * The configuration schema: every section and key of `flowsentry.yaml`, with its type, what it
 * does, its default and an example. The loader validates against it, `flowsentry config
 * reference` (docs/configuration.md) is generated from it, and each stage section lists exactly
 * the long options of the command of the same name (a unit test keeps the two equal).
 *
 * The global sections configure where the outside systems are; each of their keys with a
 * `variable` is the file's way of setting an environment variable the code reads (a variable set
 * in the environment wins).
 */
import type { ConfigOf, ConfigSchema, SectionSpec } from './schema-types.js';
import { stageSections } from './stage-sections.js';

const globalSections = {
  kafka: {
    kind: 'global',
    description: 'The Kafka cluster the stages share. Without brokers, `flowsentry run` runs every stage in one process on the in-process bus.',
    keys: {
      brokers: {
        type: { kind: 'list', item: { kind: 'string', pattern: /^[^:\s]+:\d{1,5}$/, shape: 'host:port' } },
        description: 'bootstrap brokers, host:port',
        example: ['b-1.flows.k8x2c1.c3.kafka.eu-west-1.amazonaws.com:9092', 'b-2.flows.k8x2c1.c3.kafka.eu-west-1.amazonaws.com:9092'],
        variable: 'KAFKA_BROKERS',
      },
    },
  },
  opensearch: {
    kind: 'global',
    description: 'The OpenSearch cluster the sink writes to and `flowsentry query` reads.',
    keys: {
      url: { type: { kind: 'url' }, description: 'base URL', example: 'https://search-flows-7kq2.eu-west-1.es.amazonaws.com', variable: 'OPENSEARCH_URL' },
      username: { type: { kind: 'string' }, description: 'user for HTTP basic authentication', example: 'flowsentry', variable: 'OPENSEARCH_USERNAME' },
      password: { type: { kind: 'string' }, description: 'password for HTTP basic authentication', example: 'change-me', secret: true, variable: 'OPENSEARCH_PASSWORD' },
      'ca-file': { type: { kind: 'string' }, description: 'PEM file of the CA that signed the cluster certificate', example: '/etc/flowsentry/opensearch-ca.pem', variable: 'OPENSEARCH_CA_FILE' },
      sigv4: {
        type: { kind: 'enum', values: ['es', 'aoss'] },
        description: 'sign requests with AWS SigV4 (credentials from the AWS SDK chain) for Amazon OpenSearch Service (`es`) or Serverless (`aoss`), in `aws.region`',
        example: 'es',
        variable: 'OPENSEARCH_SIGV4',
      },
    },
  },
  aws: {
    kind: 'global',
    description: 'AWS settings for CloudWatch Logs, Kinesis and SigV4. Credentials come from the AWS SDK chain (environment, profile, web identity, instance role), never from this file.',
    keys: {
      region: {
        type: { kind: 'string', pattern: /^[a-z]{2}(-[a-z]+)+-\d+$/, shape: 'an AWS region such as eu-west-1' },
        description: 'region of CloudWatch Logs, Kinesis and SigV4 (unset: AWS_DEFAULT_REGION, else us-east-1)',
        example: 'eu-west-1',
        variable: 'AWS_REGION',
      },
      'endpoint-url': {
        type: { kind: 'url' },
        description: 'override for every AWS API endpoint (a VPC endpoint, an emulator); unset means AWS itself',
        example: 'https://vpce-0a1b2c3d4e5f-abcd.logs.eu-west-1.vpce.amazonaws.com',
        variable: 'AWS_ENDPOINT_URL',
      },
    },
  },
  kubernetes: {
    kind: 'global',
    description: 'The Kubernetes API server (the inventory publisher, quarantine, `collect --cut-quarantined`). Unset in a pod: its ServiceAccount; else the current context of the kubeconfig.',
    keys: {
      url: { type: { kind: 'url' }, description: 'API server URL; needs `token`', example: 'https://4F2A9C1E7B.gr7.eu-west-1.eks.amazonaws.com', variable: 'KUBERNETES_URL' },
      token: { type: { kind: 'string' }, description: 'bearer token for `url`', example: 'eyJhbGciOiJSUzI1NiIsImtpZCI6...', secret: true, variable: 'KUBERNETES_TOKEN' },
      'ca-file': { type: { kind: 'string' }, description: "PEM file of the CA that signed the API server's certificate", example: '/etc/flowsentry/kubernetes-ca.pem', variable: 'KUBERNETES_CA_FILE' },
      kubeconfig: { type: { kind: 'string' }, description: 'kubeconfig file, used when neither `url` nor a ServiceAccount is there', example: '/home/ops/.kube/config', variable: 'KUBECONFIG' },
    },
  },
  store: {
    kind: 'global',
    description: 'The embedded store: flows, alerts and actions of `flowsentry run` without Kafka, read by `flowsentry query`.',
    keys: {
      path: { type: { kind: 'string' }, description: 'the store file', default: '.flowsentry/store.db', example: '/var/lib/flowsentry/store.db', variable: 'FLOWSENTRY_STORE_PATH' },
    },
  },
  server: {
    kind: 'global',
    description: "The process's HTTP endpoints: `/metrics` (Prometheus), `/healthz`, `/readyz`.",
    keys: {
      port: { type: { kind: 'integer', min: 0, max: 65_535 }, description: 'port (0: any free port)', default: 9464, example: 9464, variable: 'FLOWSENTRY_SERVER_PORT' },
      host: { type: { kind: 'string' }, description: 'address to listen on', default: '0.0.0.0', example: '0.0.0.0', variable: 'FLOWSENTRY_SERVER_HOST' },
    },
  },
  log: {
    kind: 'global',
    description: 'Logging.',
    keys: {
      level: { type: { kind: 'enum', values: ['debug', 'info', 'warn', 'error'] }, description: 'the least severe level written (structured JSON lines on stderr)', default: 'info', example: 'warn', variable: 'FLOWSENTRY_LOG_LEVEL' },
    },
  },
  run: {
    kind: 'global',
    description: '`flowsentry run` with a broker configured: the stages it starts in its one process, each with the options of its own section.',
    keys: {
      stages: {
        type: { kind: 'list', item: { kind: 'enum', values: ['collect', 'enrich', 'detect', 'respond', 'sink', 'inventory'] }, joined: true },
        description: 'the stages to start',
        default: ['enrich', 'detect', 'sink'],
        example: ['enrich', 'detect', 'respond', 'sink'],
      },
    },
  },
} as const satisfies Readonly<Record<string, SectionSpec>>;

export const configSchema = { ...globalSections, ...stageSections } as const satisfies ConfigSchema;

export type SectionName = keyof typeof configSchema;

/** The resolved configuration, typed by the schema. */
export type FlowsentryConfig = ConfigOf<typeof configSchema>;

/**
 * `FLOWSENTRY_…` variables that are not configuration keys, so the loader does not call them
 * unknown: the config file itself, the test services' cache and their start timeout.
 */
export const configEnvAllowList: readonly string[] = ['FLOWSENTRY_CONFIG', 'FLOWSENTRY_CACHE', 'FLOWSENTRY_SERVICE_READY_TIMEOUT_MS'];

/** The prefix of every override variable. */
export const envPrefix = 'FLOWSENTRY_';

/** `enrich`, `cluster-cidr` → `FLOWSENTRY_ENRICH_CLUSTER_CIDR`. */
export function envVariableOf(section: string, key: string): string {
  return `${envPrefix}${section}_${key}`.toUpperCase().replace(/-/g, '_');
}
