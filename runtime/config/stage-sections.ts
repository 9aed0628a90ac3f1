/**
 * One section per stage command, its keys exactly that command's long options (a unit test keeps
 * them equal): a key configures what the option would, and an option on the command line wins.
 * Options that repeat are lists; comma-separated options (`--kinds a,b`) are lists too, marked
 * `joined`. The stage applies its own defaults, so these keys have none here.
 */
import type { SectionSpec } from './schema-types.js';

const group = (stage: string) => ({ type: { kind: 'string' }, description: `consumer group; workers of one group share the partitions (the command's default: flowsentry-${stage})`, example: `flowsentry-${stage}` }) as const;
const partitions = { type: { kind: 'integer', min: 1 }, description: "partitions of topics it creates when missing (the command's default: 6)", example: 12 } as const;
const duration = { kind: 'duration' } as const;
const seconds = { kind: 'number', min: 0 } as const;

export const stageSections = {
  collect: {
    kind: 'stage',
    description: '`flowsentry collect`: reads flows from a node or an AWS source and publishes RawFlow records.',
    keys: {
      source: { type: { kind: 'enum', values: ['conntrack', 'calico-file', 'vpc-file', 'vpc-kinesis'] }, description: 'where flows come from', example: 'vpc-kinesis' },
      file: { type: { kind: 'list', item: { kind: 'string' } }, description: 'input files (several for VPC files)', example: ['/var/log/calico/flowlogs/flows.log'] },
      follow: { type: { kind: 'boolean' }, description: 'calico-file: keep reading as the file grows', example: true },
      checkpoint: { type: { kind: 'string' }, description: 'where the read position is kept, so a restart resumes after it', example: '/var/lib/flowsentry/calico.position' },
      'checkpoint-dir': { type: { kind: 'string' }, description: "Kinesis checkpoints and leases (the command's default: .flowsentry/kinesis-checkpoints)", example: '/var/lib/flowsentry/kinesis' },
      format: { type: { kind: 'string' }, description: 'calico-file: text (default) or json; VPC: v2 (default) .. v5, or the header line', example: 'v5' },
      stream: { type: { kind: 'list', item: { kind: 'string' } }, description: 'vpc-kinesis: the Kinesis streams', example: ['vpc-flow-logs'] },
      group: { type: { kind: 'string' }, description: "vpc-kinesis: consumer group for checkpoints (the command's default: flowsentry-collect)", example: 'flowsentry-collect' },
      node: { type: { kind: 'string' }, description: "this node's name, the key of every message (default $NODE_NAME or the host name)", example: 'ip-10-0-12-34.eu-west-1.compute.internal' },
      bus: { type: { kind: 'enum', values: ['kafka', 'kinesis', 'stdout'] }, description: 'where flows go (default kafka when brokers are configured, else stdout as JSON lines)', example: 'kafka' },
      'flows-per-message': { type: { kind: 'integer', min: 1 }, description: "flows per bus message (the command's default: 250)", example: 500 },
      local: { type: { kind: 'list', item: { kind: 'string' } }, description: 'conntrack: pod or host addresses or CIDR blocks of this node', example: ['10.0.12.0/24', '10.0.12.34'] },
      netns: { type: { kind: 'string' }, description: 'conntrack: read (and cut-quarantined: flush) another network namespace', example: 'node' },
      interval: { type: { kind: 'number', above: 0 }, description: "conntrack: poll and flush interval in seconds (the command's default: 10)", example: 10 },
      aggregation: { type: { kind: 'enum', values: ['no-source-port', 'tuple'] }, description: "conntrack: no-source-port (the command's default, as Calico) or tuple", example: 'no-source-port' },
      'deny-set': {
        type: { kind: 'string', pattern: /^[^/\s]+\/[^/\s]+\/[^/\s]+(\/[^/\s]+)?$/, shape: 'FAMILY/TABLE/SET[/COUNTER]' },
        description: 'conntrack: the nftables set that counts denied attempts',
        example: 'inet/flowsentry/denied/rejects',
      },
      'enable-accounting': { type: { kind: 'boolean' }, description: 'conntrack: turn on nf_conntrack_acct instead of failing when it is off', example: true },
      'cut-quarantined': {
        type: { kind: 'boolean' },
        description: "also delete the conntrack entries of this node's quarantined pods, so their open connections meet the deny policy (needs node, a Kubernetes API, CAP_NET_ADMIN)",
        example: true,
      },
    },
  },
  enrich: {
    kind: 'stage',
    description: "`flowsentry enrich`: joins both ends of each flow with who they were at the flow's time.",
    keys: {
      group: group('enrich'),
      partitions,
      grace: { type: seconds, description: "seconds a flow waits for the inventory to show an address (the command's default: 2)", example: 30 },
      'allowed-level': {
        type: { kind: 'integer', min: 0, max: 3 },
        description: 'aggregation of allowed flows: 0 none, 1 source ports, 2 also addresses by aggregated name (default), 3 also destination ports',
        example: 2,
      },
      'denied-level': { type: { kind: 'integer', min: 0, max: 3 }, description: "aggregation of denied flows, same levels (the command's default: 1)", example: 1 },
      network: {
        type: { kind: 'list', item: { kind: 'string', pattern: /^[^=\s]+=\S+$/, shape: 'NAME=CIDR[,CIDR...]' }, separator: ';' },
        description: "named network sets: such addresses are 'net' with that name (in the environment, separated by ';')",
        example: ['corp=10.200.0.0/16,10.201.0.0/16'],
      },
      'networks-file': { type: { kind: 'list', item: { kind: 'string' } }, description: "named networks from JSON: {\"name\": [\"cidr\", ...]}, or AWS ip-ranges.json (as 'aws')", example: ['/etc/flowsentry/ip-ranges.json'] },
      'cluster-cidr': { type: { kind: 'list', item: { kind: 'string' } }, description: 'pod, node and service ranges the inventory should know (default the private ranges)', example: ['10.0.0.0/16', '172.20.0.0/16'] },
      retention: { type: seconds, description: 'seconds ended claims on addresses are kept (more than grace)', example: 3600 },
    },
  },
  inventory: {
    kind: 'stage',
    description: "`flowsentry inventory`: publishes the cluster's inventory for the enrich workers, one leader at a time.",
    keys: {
      'lease-name': { type: { kind: 'string' }, description: "the Lease (the command's default: flowsentry-inventory)", example: 'flowsentry-inventory' },
      'lease-namespace': { type: { kind: 'string' }, description: "its namespace (default: the pod's own namespace, else flowsentry)", example: 'flowsentry' },
      identity: { type: { kind: 'string' }, description: "this replica's name in the Lease, unique among the candidates (default hostname-pid-random)", example: 'inventory-0' },
      kinds: {
        type: { kind: 'list', item: { kind: 'enum', values: ['Pod', 'Namespace', 'Node', 'Service', 'EndpointSlice'] }, joined: true },
        description: 'kinds to publish (default all)',
        example: ['Pod', 'Node', 'Service', 'EndpointSlice'],
      },
      partitions,
    },
  },
  detect: {
    kind: 'stage',
    description: '`flowsentry detect`: threat feeds, port_scan, ip_sweep, lateral_movement, denied_spike and exfiltration, in event time.',
    keys: {
      group: group('detect'),
      partitions,
      feed: {
        type: { kind: 'list', item: { kind: 'string' } },
        description: "threat feeds, [NAME=]FILE|URL: addresses and CIDR blocks, plain text or CSV; NAME (default: the file's name) is what alerts cite",
        example: ['spamhaus-drop=https://www.spamhaus.org/drop/drop.txt'],
      },
      'feed-refresh': { type: duration, description: "how often feeds are read again (the command's default: 10m)", example: '10m' },
      learn: { type: duration, description: "event time from the first flow that only trains baselines (the command's default: 1h)", example: '24h' },
      window: { type: duration, description: "window of port_scan, ip_sweep, denied_spike, exfiltration (the command's default: 60s)", example: '60s' },
      lateness: { type: duration, description: "how late a flow may arrive before its window closes (the command's default: 30s)", example: '30s' },
      'resolve-after': { type: duration, description: 'how long without evidence before an alert resolves (default 3 windows)', example: '5m' },
      detectors: {
        type: { kind: 'list', item: { kind: 'enum', values: ['ioc', 'port_scan', 'ip_sweep', 'lateral_movement', 'denied_spike', 'exfiltration'] }, joined: true },
        description: 'detectors that run (default all)',
        example: ['ioc', 'port_scan', 'ip_sweep', 'lateral_movement'],
      },
      threshold: {
        type: { kind: 'list', item: { kind: 'string', pattern: /^[a-z_]+=[^=\s]+$/, shape: 'NAME=VALUE' } },
        description: 'the least value that may alert, per window: port_scan (ports), ip_sweep (addresses), denied_spike (flows), exfiltration (bytes)',
        example: ['port_scan=30', 'exfiltration=2000000000'],
      },
      'sensitive-ports': {
        type: { kind: 'list', item: { kind: 'integer', min: 1, max: 65_535 }, joined: true },
        description: 'ports whose new edges are lateral movement',
        example: [22, 3389, 5432, 6379],
      },
      'internal-network': { type: { kind: 'list', item: { kind: 'string' } }, description: 'named networks that are not public, for exfiltration', example: ['corp'] },
    },
  },
  respond: {
    kind: 'stage',
    description: "`flowsentry respond`: notifies on-call of alerts and quarantines their source pods, within the safety rules.",
    keys: {
      notify: { type: { kind: 'string' }, description: 'endpoints and routes file, YAML or JSON (see detect/README.md, "Notifiers")', example: '/etc/flowsentry/notify.yaml' },
      quarantine: {
        type: { kind: 'string' },
        description: 'response policy file: which alerts quarantine their source pod, with which backend, TTL and dry run (see detect/quarantine/README.md); needs a Kubernetes API server',
        example: '/etc/flowsentry/response-policy.yaml',
      },
      'protected-namespaces': { type: { kind: 'list', item: { kind: 'string' }, joined: true }, description: 'never quarantined, besides kube-system', example: ['kube-system', 'flowsentry', 'payments'] },
      'min-healthy-replicas': { type: { kind: 'integer', min: 0 }, description: "ready replicas an owner must keep (the command's default: 1)", example: 2 },
      'max-quarantines': {
        type: { kind: 'string', pattern: /^\d+\/\d{1,7}[smhd]$/, shape: 'N/DURATION such as 5/10m' },
        description: "at most N quarantines per window, then the circuit breaker opens for one more window (the command's default: 5/10m)",
        example: '5/10m',
      },
      'expiry-check': {
        type: { kind: 'string', pattern: /^\d{1,7}[smhd]$/, shape: 'a duration such as 15s or 1m' },
        description: "how often expired quarantines are released (the command's default: 15s)",
        example: '30s',
      },
      group: group('respond'),
      partitions,
    },
  },
  sink: {
    kind: 'stage',
    description: '`flowsentry sink`: writes enriched flows, alerts and actions to OpenSearch and CloudWatch Logs.',
    keys: {
      opensearch: { type: { kind: 'url' }, description: 'write to OpenSearch at this URL (default `opensearch.url` when cloudwatch is not given)', example: 'https://search-flows-7kq2.eu-west-1.es.amazonaws.com' },
      'index-prefix': {
        type: { kind: 'string', pattern: /^[a-z0-9][a-z0-9._-]*$/, shape: 'a lower-case index name' },
        description: "first word of index, template and policy names (the command's default: flowsentry)",
        example: 'flowsentry',
      },
      retention: {
        type: { kind: 'list', item: { kind: 'string', pattern: /^(flows|alerts|actions)=\d+$/, shape: 'flows|alerts|actions=DAYS' }, joined: true },
        description: 'days kept per kind (defaults flows=14, alerts=365, actions=365)',
        example: ['flows=30', 'alerts=400', 'actions=400'],
      },
      replicas: { type: { kind: 'integer', min: 0 }, description: "replicas of new indices (the command's default: 1)", example: 1 },
      cloudwatch: { type: { kind: 'string' }, description: 'write to CloudWatch Logs: a log group for this cluster, a stream per node', example: 'prod-eu-west-1' },
      'cloudwatch-naming': { type: { kind: 'enum', values: ['default', 'tigera'] }, description: 'default (/flowsentry/<cluster>/flows, <node>) or tigera (tigera-flowlogs-<cluster>, <node>_Flowlogs)', example: 'default' },
      'cloudwatch-format': { type: { kind: 'enum', values: ['calico', 'json'] }, description: 'calico (the Calico text line, default) or json', example: 'calico' },
      'cloudwatch-retention': { type: { kind: 'integer', min: 1 }, description: "retention of the log group in days (the command's default: 30)", example: 90 },
      emf: { type: { kind: 'boolean' }, description: 'also per-minute, per-namespace CloudWatch metrics (Embedded Metric Format)', example: true },
      kinds: { type: { kind: 'list', item: { kind: 'enum', values: ['flows', 'alerts', 'actions'] }, joined: true }, description: 'records to write (default all three)', example: ['flows', 'alerts', 'actions'] },
      members: { type: { kind: 'integer', min: 1 }, description: "group members in this process (the command's default: 3)", example: 3 },
      group: group('sink'),
      partitions,
    },
  },
} as const satisfies Readonly<Record<string, SectionSpec>>;
