/**
 * AWS VPC Flow Logs: the record format (the default v2 format, or a custom format named by a
 * header line or a LogFormat string) and the parser of one record line into a RawFlow. Pure: no
 * I/O, no clock. The sources (`vpc-file-source.ts`, `vpc-kinesis-source.ts`) feed it lines.
 *
 * How a record becomes a RawFlow:
 * - `start`/`end` are epoch seconds; RawFlow times are milliseconds.
 * - `action` ACCEPT/REJECT → allow/deny. `protocol` is already the IANA number.
 * - Addresses: `pkt-srcaddr`/`pkt-dstaddr` when the format has them and they are set (the packet's
 *   own addresses, behind NAT or a secondary ENI address), else `srcaddr`/`dstaddr`. IPv6 stays a
 *   string. A `-` address or port is null.
 * - `reporter`: a record describes the traffic one network interface saw in one direction.
 *   `flow-direction` ingress → `dst` (the interface received it), egress → `src`; without that
 *   field, `src`.
 * - Counters: VPC Flow Logs count one direction per record, so `packets`/`bytes` go to
 *   `packets_out`/`bytes_out` for reporter `src` and to `packets_in`/`bytes_in` for `dst`; the other
 *   side is 0. A format without `packets` or `bytes` yields 0.
 * - `num_flows` is 1. From `tcp-flags` (TCP only, OR-ed over the capture window): a record with SYN
 *   but not ACK opened a connection (`num_flows_started` 1; the SYN-ACK of the answering side, 18,
 *   does not count), one with FIN or RST closed it (`num_flows_completed` 1). Without the field,
 *   or for other protocols, both are 0: there is no evidence either way.
 * - `host` is the network interface id; without one (a custom format that leaves it out, or `-`),
 *   the instance, subnet or VPC id, else `-`.
 * - NODATA and SKIPDATA records carry `-` in their traffic fields: they are not flows. The parser
 *   reports them as skipped (the sources count them); they never reach the dead-letter path.
 *   Without a `log-status` field, a record whose `action` is `-` is skipped as NODATA.
 *
 * Errors are `VpcFlowLogError`s (an IngestError): INGEST_BAD_LINE (field count), INGEST_BAD_FIELD
 * (a value, named by `field`), INGEST_BAD_HEADER (a format that cannot be used).
 */
import { isIP } from 'node:net';
import type { RawFlow, Reporter } from '../schemas/types.js';
import { IngestError } from './problems.js';
import { noEndpointIdentity, noFlowExtras } from '../schemas/defaults.js';

/** Every field AWS documents, with the version that introduced it, in the documented order. */
export const vpcFieldVersions: Readonly<Record<string, number>> = Object.freeze({
  version: 2,
  'account-id': 2,
  'interface-id': 2,
  srcaddr: 2,
  dstaddr: 2,
  srcport: 2,
  dstport: 2,
  protocol: 2,
  packets: 2,
  bytes: 2,
  start: 2,
  end: 2,
  action: 2,
  'log-status': 2,
  'vpc-id': 3,
  'subnet-id': 3,
  'instance-id': 3,
  'tcp-flags': 3,
  type: 3,
  'pkt-srcaddr': 3,
  'pkt-dstaddr': 3,
  region: 4,
  'az-id': 4,
  'sublocation-type': 4,
  'sublocation-id': 4,
  'pkt-src-aws-service': 5,
  'pkt-dst-aws-service': 5,
  'flow-direction': 5,
  'traffic-path': 5,
  'ecs-cluster-arn': 7,
  'ecs-cluster-name': 7,
  'ecs-container-instance-arn': 7,
  'ecs-container-instance-id': 7,
  'ecs-container-id': 7,
  'ecs-second-container-id': 7,
  'ecs-service-name': 7,
  'ecs-task-definition-arn': 7,
  'ecs-task-arn': 7,
  'ecs-task-id': 7,
  'reject-reason': 8,
});

/** Fields a format must have to yield flows. */
const requiredFields = ['start', 'end', 'action', 'protocol'] as const;

/** The fields the parser reads; the others are carried by the format but ignored. */
const usedFields = [
  'version',
  'interface-id',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'protocol',
  'packets',
  'bytes',
  'start',
  'end',
  'action',
  'log-status',
  'vpc-id',
  'subnet-id',
  'instance-id',
  'tcp-flags',
  'pkt-srcaddr',
  'pkt-dstaddr',
  'flow-direction',
] as const;
type UsedField = (typeof usedFields)[number];

const fieldName = /^[a-z][a-z0-9-]*$/;

export class VpcFlowLogError extends IngestError {
  constructor(
    code: 'INGEST_BAD_LINE' | 'INGEST_BAD_FIELD' | 'INGEST_BAD_HEADER',
    message: string,
    /** The field whose value was refused. */
    readonly field?: string,
  ) {
    super(code, message);
  }
}

/** A record format: which fields, in which order. Build with `vpcFormat*`. */
export interface VpcFlowLogFormat {
  readonly fields: readonly string[];
  /** The highest version among the known fields: the `version` AWS writes in each record. */
  readonly version: number;
  /** Field names this parser does not know (a later version): their values are ignored. */
  readonly unknown: readonly string[];
  /** Position of each field the parser reads, -1 when the format lacks it. */
  readonly at: Readonly<Record<UsedField, number>>;
}

const quote = (value: string) => `'${value.length > 64 ? `${value.slice(0, 64)}…` : value}'`;

/** The format of the given field names, in order. Throws INGEST_BAD_HEADER when it cannot yield flows. */
export function vpcFormatOf(fields: readonly string[]): VpcFlowLogFormat {
  if (fields.length === 0) throw new VpcFlowLogError('INGEST_BAD_HEADER', 'a flow log format needs at least one field');
  const seen = new Set<string>();
  const unknown: string[] = [];
  let version = 2;
  for (const name of fields) {
    if (!fieldName.test(name)) throw new VpcFlowLogError('INGEST_BAD_HEADER', `${quote(name)} is not a flow log field name`);
    if (seen.has(name)) throw new VpcFlowLogError('INGEST_BAD_HEADER', `field '${name}' appears twice`);
    seen.add(name);
    const since = vpcFieldVersions[name];
    if (since === undefined) unknown.push(name);
    else version = Math.max(version, since);
  }
  const missing = requiredFields.filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new VpcFlowLogError('INGEST_BAD_HEADER', `a flow log format without ${missing.join(', ')} yields no flows`);
  }
  const at = Object.fromEntries(usedFields.map((name) => [name, fields.indexOf(name)])) as Record<UsedField, number>;
  return { fields: [...fields], version, unknown, at };
}

/** Every documented field up to `version`, in the documented order; version 2 is the default format. */
export function vpcFormatOfVersion(version: 2 | 3 | 4 | 5 | 7 | 8): VpcFlowLogFormat {
  return vpcFormatOf(Object.keys(vpcFieldVersions).filter((name) => vpcFieldVersions[name]! <= version));
}

/** The default format: `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status`. */
export const defaultVpcFormat: VpcFlowLogFormat = vpcFormatOfVersion(2);

/** The format named by an S3 header line (`version account-id ...`) or a LogFormat string (`${version} ${account-id} ...`). */
export function vpcFormatFromHeader(header: string): VpcFlowLogFormat {
  const fields = splitFields(header).map((token) => (token.startsWith('${') && token.endsWith('}') ? token.slice(2, -1) : token));
  return vpcFormatOf(fields);
}

/** True when the line names fields rather than values: a header (first token not a number, every token a field name). */
export function looksLikeVpcHeader(line: string, knownOnly = false): boolean {
  const first = line.charCodeAt(0);
  if (first >= 48 && first <= 57) return false;
  const tokens = splitFields(line);
  if (tokens.length === 0 || /^\d/.test(tokens[0]!)) return false;
  return tokens.every((token) => fieldName.test(token) && (!knownOnly || vpcFieldVersions[token] !== undefined));
}

/** The fields of a line: separated by runs of spaces or tabs; whitespace at either end (a trailing CR) is dropped. */
export function splitFields(line: string): string[] {
  // Fast path for what AWS writes: single spaces, nothing around.
  const last = line.charCodeAt(line.length - 1);
  if (line.charCodeAt(0) > 32 && last > 32 && last !== 160 && !line.includes('  ') && !line.includes('\t')) return line.split(' ');
  const trimmed = line.trim();
  return trimmed.length === 0 ? [] : trimmed.split(/[ \t]+/);
}

export type VpcLineResult = { readonly kind: 'flow'; readonly flow: RawFlow } | { readonly kind: 'skip'; readonly status: 'NODATA' | 'SKIPDATA' };

const NODATA: VpcLineResult = Object.freeze({ kind: 'skip', status: 'NODATA' });
const SKIPDATA: VpcLineResult = Object.freeze({ kind: 'skip', status: 'SKIPDATA' });

/** Most digits of a field: ports, protocol and flags fit 5, counters and times 15 (exact in a double). */
const smallNumber = 5;
const bigNumber = 15;
const TCP = 6;
const FIN = 1;
const SYN = 2;
const RST = 4;
const ACK = 16;

function bad(field: string, value: string, why: string): never {
  throw new VpcFlowLogError('INGEST_BAD_FIELD', `${field} ${quote(value)} ${why}`, field);
}

/** A non-negative decimal integer of at most `maxDigits` digits and at most `max`. */
function integer(field: string, value: string, maxDigits: number, max: number): number {
  const length = value.length;
  if (length === 0 || length > maxDigits) bad(field, value, 'is not a number');
  let number = 0;
  for (let i = 0; i < length; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) bad(field, value, 'is not a number');
    number = number * 10 + digit;
  }
  if (number > max) bad(field, value, `is out of range (0-${max})`);
  return number;
}

const port = (field: string, value: string) => (value === '-' ? null : integer(field, value, smallNumber, 65_535));

function address(field: string, value: string): string | null {
  if (value === '-') return null;
  if (value.length > 45 || isIP(value) === 0) bad(field, value, 'is not an IP address');
  return value;
}

/** The value of a field, or undefined when the format lacks it. */
const valueOf = (tokens: readonly string[], index: number) => (index < 0 ? undefined : tokens[index]);
const set = (value: string | undefined): value is string => value !== undefined && value !== '-';

function checkVersion(format: VpcFlowLogFormat, value: string): void {
  const version = integer('version', value, 3, 999);
  // AWS writes the highest version among the format's fields; a later field we do not know may raise it.
  if (format.unknown.length === 0 ? version !== format.version : version < format.version) {
    bad('version', value, `does not match the format (fields up to version ${format.version})`);
  }
}

function hostOf(tokens: readonly string[], at: VpcFlowLogFormat['at']): string {
  for (const index of [at['interface-id'], at['instance-id'], at['subnet-id'], at['vpc-id']]) {
    const value = valueOf(tokens, index);
    if (set(value)) return value;
  }
  return '-';
}

/**
 * Parses one record line in `format`: a flow, or a skipped NODATA/SKIPDATA record. Throws a
 * VpcFlowLogError for anything else (and only that).
 */
export function parseVpcLine(format: VpcFlowLogFormat, line: string): VpcLineResult {
  const tokens = splitFields(line);
  if (tokens.length !== format.fields.length) {
    throw new VpcFlowLogError(
      'INGEST_BAD_LINE',
      `expected ${format.fields.length} fields (version ${format.version} format), found ${tokens.length}`,
    );
  }
  const { at } = format;
  const status = valueOf(tokens, at['log-status']);
  const actionText = tokens[at.action]!;
  if (status === 'NODATA') return NODATA;
  if (status === 'SKIPDATA') return SKIPDATA;
  if (status === undefined && actionText === '-') return NODATA;
  if (status !== undefined && status !== 'OK') bad('log-status', status, 'is not OK, NODATA or SKIPDATA');

  const version = valueOf(tokens, at.version);
  if (version !== undefined) checkVersion(format, version);
  const action = actionText === 'ACCEPT' ? 'allow' : actionText === 'REJECT' ? 'deny' : bad('action', actionText, 'is not ACCEPT or REJECT');
  const proto = integer('protocol', tokens[at.protocol]!, smallNumber, 255);
  const startText = tokens[at.start]!;
  const endText = tokens[at.end]!;
  const start = integer('start', startText, bigNumber, 1e12) * 1000;
  const end = integer('end', endText, bigNumber, 1e12) * 1000;
  if (end < start) bad('end', endText, `is before start ${quote(startText)}`);
  const packetsText = valueOf(tokens, at.packets);
  const bytesText = valueOf(tokens, at.bytes);
  const packets = packetsText === undefined ? 0 : integer('packets', packetsText, bigNumber, Number.MAX_SAFE_INTEGER);
  const bytes = bytesText === undefined ? 0 : integer('bytes', bytesText, bigNumber, Number.MAX_SAFE_INTEGER);

  const srcaddr = valueOf(tokens, at.srcaddr);
  const dstaddr = valueOf(tokens, at.dstaddr);
  const pktSrc = valueOf(tokens, at['pkt-srcaddr']);
  const pktDst = valueOf(tokens, at['pkt-dstaddr']);
  const sourceIp = set(pktSrc) ? address('pkt-srcaddr', pktSrc) : srcaddr === undefined ? null : address('srcaddr', srcaddr);
  const destIp = set(pktDst) ? address('pkt-dstaddr', pktDst) : dstaddr === undefined ? null : address('dstaddr', dstaddr);
  const srcport = valueOf(tokens, at.srcport);
  const dstport = valueOf(tokens, at.dstport);
  const sourcePort = srcport === undefined ? null : port('srcport', srcport);
  const destPort = dstport === undefined ? null : port('dstport', dstport);

  const direction = valueOf(tokens, at['flow-direction']);
  let reporter: Reporter = 'src';
  if (direction === 'ingress') reporter = 'dst';
  else if (direction !== undefined && direction !== 'egress' && direction !== '-') bad('flow-direction', direction, 'is not ingress or egress');

  const flagsText = valueOf(tokens, at['tcp-flags']);
  const flags = set(flagsText) ? integer('tcp-flags', flagsText, smallNumber, 65_535) : undefined;
  const started = proto === TCP && flags !== undefined && (flags & (SYN | ACK)) === SYN ? 1 : 0;
  const completed = proto === TCP && flags !== undefined && (flags & (FIN | RST)) !== 0 ? 1 : 0;
  const outbound = reporter === 'src';

  // One literal of one fixed shape: records share one hidden class (schemas/README.md).
  const flow: RawFlow = {
    start_time: start,
    end_time: end,
    origin: 'vpc',
    host: hostOf(tokens, at),
    source_ip: sourceIp,
    source_port: sourcePort,
    dest_ip: destIp,
    dest_port: destPort,
    proto,
    reporter,
    action,
    policies: [],
    bytes_in: outbound ? 0 : bytes,
    bytes_out: outbound ? bytes : 0,
    packets_in: outbound ? 0 : packets,
    packets_out: outbound ? packets : 0,
    num_flows: 1,
    num_flows_started: started,
    num_flows_completed: completed,
    ...noEndpointIdentity,
    ...noFlowExtras,
  };
  return { kind: 'flow', flow };
}

/** What a VPC source saw besides flows and problems; NODATA/SKIPDATA records are counted here, never dead-lettered. */
export interface VpcCounts {
  lines: number;
  flows: number;
  problems: number;
  noData: number;
  skipData: number;
  headers: number;
  blank: number;
}

export const emptyVpcCounts = (): VpcCounts => ({ lines: 0, flows: 0, problems: 0, noData: 0, skipData: 0, headers: 0, blank: 0 });
