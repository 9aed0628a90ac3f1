/**
 * Calico flow logs in the text format Calico writes to AWS CloudWatch Logs: one flow per line,
 * 24 fields separated by spaces, `-` for an empty field.
 *
 *   start end src_type src_ns src_name src_labels dst_type dst_ns dst_name dst_labels
 *   src_ip dst_ip proto src_port dst_port num_flows num_flows_started num_flows_completed
 *   reporter packets_in packets_out bytes_in bytes_out action
 *
 * Parsing (`parseCalicoText`, or `calicoTextParser` for a LineFileSource) accepts every
 * vocabulary Calico has used and maps it to RawFlow's canonical one:
 *
 * | field | accepted | RawFlow |
 * | --- | --- | --- |
 * | start, end | epoch seconds | `start_time`, `end_time` in epoch milliseconds |
 * | src_type, dst_type | `wep` `hep` `ns` `net`, and the older `pvt` `pub` | `pvt`/`pub` become `net` with `*_name_aggr` = `pvt`/`pub` |
 * | src_name, dst_name | a name, `-` | always `*_name_aggr`; also `*_name` when it holds no `*` (an unaggregated name); for `net` the network (`pub`, `pvt`, `aws`, ...) |
 * | src_labels, dst_labels | `[k=v,k2=v2]`, `[]`, `-` | a map, `{}`, null |
 * | proto | IANA number, or a name (`tcp`, `udp`, `icmp`, ...) | the number |
 * | reporter | `out`/`in`, `src`/`dst`, `O`/`I` | `src`/`dst` |
 * | action | `allow`/`deny`, `A`/`D` | `allow`/`deny` |
 *
 * Fields may be separated by runs of spaces or tabs; a trailing `\r` is ignored. The line has no
 * node name, so the parser takes `host` as an option (the log stream's node). Words are matched
 * case-insensitively. A bad line throws an IngestError whose code is INGEST_BAD_LINE (field count)
 * or INGEST_BAD_FIELD (the message names the field and shows the value); a LineFileSource turns it
 * into a ParseProblem naming the file and line, and reads on. Parsing scans a line at most twice
 * (a look for tabs, then the split, which stops at the 25th field) and each field once, with no
 * backtracking pattern, so a long garbage line costs time linear in its length.
 *
 * Formatting (`formatCalicoText`) writes the canonical vocabulary (`wep/hep/ns/net`, `out/in`,
 * `allow/deny`, protocol numbers), so a canonical line formats back byte-identical. Names are
 * written as `*_name_aggr`, else `*_name`, else `-`; times as whole seconds (start rounded down,
 * end rounded up); labels in their map order. A value holding whitespace would split the line, so
 * whitespace is written as `_`, and an empty value as `-`.
 */
import type { RawFlow } from '../schemas/types.js';
import {
  actionOf,
  calicoProblemCodes,
  countOf,
  endpointKindOf,
  ipOf,
  labelsOfText,
  millisOfSeconds,
  namesOf,
  portOf,
  protoOf,
  reporterOf,
  textOf,
} from './calico-vocabulary.js';
import type { LineParser } from './line-file-source.js';
import { IngestError } from './problems.js';
import { noFlowExtras } from '../schemas/defaults.js';

/** The 24 fields of a line, named as Calico names them. */
export const calicoTextFields = [
  'start',
  'end',
  'src_type',
  'src_ns',
  'src_name',
  'src_labels',
  'dst_type',
  'dst_ns',
  'dst_name',
  'dst_labels',
  'src_ip',
  'dst_ip',
  'proto',
  'src_port',
  'dst_port',
  'num_flows',
  'num_flows_started',
  'num_flows_completed',
  'reporter',
  'packets_in',
  'packets_out',
  'bytes_in',
  'bytes_out',
  'action',
] as const;

const FIELD_COUNT = calicoTextFields.length;

export interface CalicoTextOptions {
  /** The node that observed the flows (RawFlow.host): the line does not carry it. */
  readonly host: string;
}

const isSeparator = (code: number) => code === 32 || code === 9;

const tooMany = () => new IngestError(calicoProblemCodes.badLine, `expected ${FIELD_COUNT} space-separated fields, found more`);

/** Fields separated by runs of spaces and tabs, scanned code by code. */
function splitOnBlanks(line: string, end: number, fields: string[]): void {
  let i = 0;
  while (i < end) {
    while (i < end && isSeparator(line.charCodeAt(i))) i++;
    if (i === end) break;
    const start = i;
    while (i < end && !isSeparator(line.charCodeAt(i))) i++;
    if (fields.length === FIELD_COUNT) throw tooMany();
    fields.push(line.slice(start, i));
  }
}

/** Fields separated by spaces only (what Calico writes), found with indexOf. */
function splitOnSpaces(line: string, end: number, fields: string[]): void {
  for (let start = 0; start < end; ) {
    let space = line.indexOf(' ', start);
    if (space < 0 || space > end) space = end;
    if (space > start) {
      if (fields.length === FIELD_COUNT) throw tooMany();
      fields.push(line.slice(start, space));
    }
    start = space + 1;
  }
}

/** The fields of a line, in one pass; throws on any count but 24 without splitting past the 25th field. */
function splitFields(line: string): string[] {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 10 || line.charCodeAt(end - 1) === 13)) end--;
  const fields: string[] = [];
  if (line.includes('\t')) splitOnBlanks(line, end, fields);
  else splitOnSpaces(line, end, fields);
  if (fields.length !== FIELD_COUNT) {
    throw new IngestError(calicoProblemCodes.badLine, `expected ${FIELD_COUNT} space-separated fields, found ${fields.length}`);
  }
  return fields;
}

/** One line as a RawFlow; throws an IngestError naming the bad field. */
export function parseCalicoText(line: string, options: CalicoTextOptions): RawFlow {
  const f = splitFields(line);
  const sourceKind = endpointKindOf(f[2]!, 'src_type');
  const destKind = endpointKindOf(f[6]!, 'dst_type');
  const source = namesOf(sourceKind, f[4]!);
  const dest = namesOf(destKind, f[8]!);
  return {
    start_time: millisOfSeconds(f[0]!, 'start'),
    end_time: millisOfSeconds(f[1]!, 'end'),
    origin: 'calico',
    host: options.host,
    source_ip: ipOf(f[10]!, 'src_ip'),
    source_port: portOf(f[13]!, 'src_port'),
    source_type: sourceKind.type,
    source_namespace: textOf(f[3]!),
    source_name: source.name,
    source_name_aggr: source.aggregated,
    source_labels: labelsOfText(f[5]!, 'src_labels'),
    dest_ip: ipOf(f[11]!, 'dst_ip'),
    dest_port: portOf(f[14]!, 'dst_port'),
    dest_type: destKind.type,
    dest_namespace: textOf(f[7]!),
    dest_name: dest.name,
    dest_name_aggr: dest.aggregated,
    dest_labels: labelsOfText(f[9]!, 'dst_labels'),
    dest_service_namespace: null,
    dest_service_name: null,
    dest_service_port: null,
    dest_service_port_num: null,
    proto: protoOf(f[12]!, 'proto'),
    reporter: reporterOf(f[18]!, 'reporter'),
    action: actionOf(f[23]!, 'action'),
    policies: [],
    bytes_in: countOf(f[21]!, 'bytes_in'),
    bytes_out: countOf(f[22]!, 'bytes_out'),
    packets_in: countOf(f[19]!, 'packets_in'),
    packets_out: countOf(f[20]!, 'packets_out'),
    num_flows: countOf(f[15]!, 'num_flows'),
    num_flows_started: countOf(f[16]!, 'num_flows_started'),
    num_flows_completed: countOf(f[17]!, 'num_flows_completed'),
    ...noFlowExtras,
  };
}

const isBlank = (line: string) => {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (!isSeparator(code) && code !== 13) return false;
  }
  return true;
};

/** A LineParser of Calico text lines for a LineFileSource; blank lines are skipped. */
export function calicoTextParser(options: CalicoTextOptions): LineParser {
  return (line) => (isBlank(line) ? null : parseCalicoText(line, options));
}

/** A value as one field: `-` when empty, whitespace as `_`. */
function field(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '-';
  return typeof value === 'number' ? String(value) : value.replace(/\s/g, '_');
}

function labelsField(labels: Readonly<Record<string, string>> | null | undefined): string {
  if (labels === null || labels === undefined) return '-';
  return field(`[${Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(',')}]`);
}

/** A RawFlow as one Calico text line (no line break), in the canonical vocabulary. */
export function formatCalicoText(flow: RawFlow): string {
  return [
    String(Math.floor(flow.start_time / 1000)),
    String(Math.ceil(flow.end_time / 1000)),
    field(flow.source_type),
    field(flow.source_namespace),
    field(flow.source_name_aggr ?? flow.source_name),
    labelsField(flow.source_labels),
    field(flow.dest_type),
    field(flow.dest_namespace),
    field(flow.dest_name_aggr ?? flow.dest_name),
    labelsField(flow.dest_labels),
    field(flow.source_ip),
    field(flow.dest_ip),
    String(flow.proto),
    field(flow.source_port),
    field(flow.dest_port),
    String(flow.num_flows),
    String(flow.num_flows_started),
    String(flow.num_flows_completed),
    flow.reporter === 'src' ? 'out' : 'in',
    String(flow.packets_in),
    String(flow.packets_out),
    String(flow.bytes_in),
    String(flow.bytes_out),
    flow.action,
  ].join(' ');
}
