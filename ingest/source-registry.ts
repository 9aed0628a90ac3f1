import type { Bus } from '../runtime/bus/bus.js';
import { calicoJsonParser } from './calico-json.js';
import { ConntrackSource, type ConntrackDenySet } from './conntrack-source.js';
import { calicoTextParser } from './calico-text.js';
import { LineFileSource } from './line-file-source.js';
import type { FlowSource } from './source.js';
import { VpcFileSource } from './vpc-file-source.js';
import { defaultVpcFormat, vpcFormatFromHeader, vpcFormatOfVersion, type VpcFlowLogFormat } from './vpc-flow-log.js';
import { VpcKinesisSource } from './vpc-kinesis-source.js';

/** Everything `flowsentry collect` may configure; each source type reads the keys it needs. */
export interface CollectSettings {
  readonly source: string;
  readonly node: string;
  readonly files: readonly string[];
  readonly follow: boolean;
  readonly checkpoint: string | undefined;
  readonly format: string | undefined;
  readonly streams: readonly string[];
  readonly group: string;
  /** Builds the Kinesis bus that `vpc-kinesis` reads from. */
  readonly kinesisBus: () => Bus;
  /** conntrack: the node's pod and host addresses or CIDR blocks. */
  readonly local: readonly string[];
  readonly netns: string | undefined;
  readonly intervalSeconds: number;
  readonly aggregation: string;
  /** conntrack: `family/table/set` of the nftables deny set. */
  readonly denySet: string | undefined;
  readonly enableAccounting: boolean;
}

function denySetOf(text: string): ConntrackDenySet {
  const [family, table, set, counter] = text.split('/');
  return { family: family!, table: table!, set: set!, ...(counter ? { counter } : {}) };
}

interface SourceType {
  readonly summary: string;
  /** Problems with the settings, each naming the option; empty when the source can be built. */
  check(settings: CollectSettings): string[];
  create(settings: CollectSettings): FlowSource;
}

function vpcFormat(format: string | undefined): VpcFlowLogFormat {
  if (format === undefined) return defaultVpcFormat;
  if (/^v?[234578]$/.test(format)) return vpcFormatOfVersion(Number(format.replace('v', '')) as 2 | 3 | 4 | 5 | 7 | 8);
  return vpcFormatFromHeader(format);
}

const checkVpcFormat = (settings: CollectSettings) => {
  try {
    vpcFormat(settings.format);
    return [];
  } catch (error) {
    return [`--format: ${error instanceof Error ? error.message : String(error)}`];
  }
};

/** The source types, by the name `--source` takes. */
export const sourceTypes: Readonly<Record<string, SourceType>> = {
  conntrack: {
    summary: "the kernel's connection table of this node (polled, plus DESTROY events), and an nftables deny set",
    check: (settings) => [
      ...(settings.local.length > 0 ? [] : ['--local: give the pod and host addresses or CIDRs of this node (repeatable)']),
      ...(Number.isFinite(settings.intervalSeconds) && settings.intervalSeconds > 0 ? [] : ['--interval: not a positive number of seconds']),
      ...(['tuple', 'no-source-port'].includes(settings.aggregation) ? [] : [`--aggregation: '${settings.aggregation}' is not tuple or no-source-port`]),
      ...(settings.denySet === undefined || /^(inet|ip|ip6)\/[\w-]+\/[\w-]+(\/[\w-]+)?$/.test(settings.denySet)
        ? []
        : [`--deny-set: '${settings.denySet}' is not family/table/set[/counter]`]),
    ],
    create: (settings) =>
      new ConntrackSource({
        host: settings.node,
        local: settings.local,
        intervalMs: settings.intervalSeconds * 1000,
        level: settings.aggregation as 'tuple' | 'no-source-port',
        accounting: settings.enableAccounting ? 'enable' : 'require',
        ...(settings.netns ? { netns: settings.netns } : {}),
        ...(settings.denySet ? { deny: denySetOf(settings.denySet) } : {}),
      }),
  },
  'calico-file': {
    summary: 'Calico flow-log file (text or JSON lines); --follow tails it across rotations',
    check: (settings) => [
      ...(settings.files.length === 1 ? [] : ['--file: give exactly one Calico flow-log file']),
      ...(settings.format === undefined || ['text', 'json'].includes(settings.format) ? [] : [`--format: '${settings.format}' is not text or json`]),
    ],
    create: (settings) =>
      new LineFileSource({
        path: settings.files[0]!,
        parse: settings.format === 'json' ? calicoJsonParser({ host: settings.node }) : calicoTextParser({ host: settings.node }),
        follow: settings.follow,
        ...(settings.checkpoint ? { checkpointPath: settings.checkpoint } : {}),
      }),
  },
  'vpc-file': {
    summary: 'AWS VPC Flow Log files, plain or gzip (as S3 delivers them)',
    check: (settings) => [...(settings.files.length > 0 ? [] : ['--file: give at least one VPC flow-log file']), ...checkVpcFormat(settings)],
    create: (settings) =>
      new VpcFileSource({
        paths: settings.files,
        name: 'vpc-file',
        format: vpcFormat(settings.format),
        ...(settings.checkpoint ? { checkpointPath: settings.checkpoint } : {}),
      }),
  },
  'vpc-kinesis': {
    summary: 'VPC Flow Logs from a CloudWatch Logs subscription delivered to Kinesis streams',
    check: (settings) => [...(settings.streams.length > 0 ? [] : ['--stream: give the Kinesis stream the subscription delivers to']), ...checkVpcFormat(settings)],
    create: (settings) =>
      new VpcKinesisSource({
        bus: settings.kinesisBus(),
        streams: settings.streams,
        groupId: settings.group,
        name: 'vpc-kinesis',
        format: vpcFormat(settings.format),
      }),
  },
};
