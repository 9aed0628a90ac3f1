/**
 * Calico Enterprise flow logs as it writes them to files (`flows.log`): one JSON object per line,
 * keys in RawFlow's vocabulary (`start_time`, `source_name_aggr`, `dest_service_port`, ...).
 *
 * Accepted variants: times in epoch seconds (numbers or digit strings); `proto` as a number, a
 * digit string or a name (`tcp`, `udp`, `icmp`, ...); reporter and action in any Calico vocabulary
 * (see calico-vocabulary.ts); `-`, `""` and null for an empty text field; labels as
 * `{"labels":["k=v",...]}` (Enterprise), a plain `{"k":"v"}` map, a `["k=v"]` list or the text
 * format's `[k=v,...]`; policies as `{"all_policies":[...]}` (or `enforced_policies`) or a list;
 * `dest_service_port` as a port name, or a number (then taken as `dest_service_port_num`);
 * `process_id` as a string or a number. Keys RawFlow has no field for (`@timestamp`, `cluster`,
 * `http_requests_*`, `original_source_ips`, ...) are ignored. `host` falls back to an option.
 *
 * Garbage throws an IngestError: INGEST_BAD_JSON (not JSON, or nested deeper than 32 levels),
 * INGEST_BAD_LINE (not an object), INGEST_MISSING_FIELD and INGEST_BAD_FIELD (the message names
 * the field). Time is linear in the line's length: a line long enough to nest deeply is checked
 * for depth in one pass before JSON.parse, and every field is read once.
 */
import type { EndpointType, Labels, RawFlow } from '../schemas/types.js';
import {
  actionOf,
  badField,
  calicoProblemCodes,
  endpointKindOf,
  ipOf,
  isDigits,
  labelsOfEntries,
  labelsOfText,
  missingField,
  protoOf,
  reporterOf,
} from './calico-vocabulary.js';
import type { LineParser } from './line-file-source.js';
import { IngestError } from './problems.js';

export interface CalicoJsonOptions {
  /** RawFlow.host when a record has no `host` key. */
  readonly host?: string;
}

type JsonRecord = Readonly<Record<string, unknown>>;

const isRecord = (value: unknown): value is JsonRecord => typeof value === 'object' && value !== null && !Array.isArray(value);
const isEmpty = (value: unknown) => value === undefined || value === null || value === '-' || value === '';

function required(record: JsonRecord, key: string): unknown {
  const value = record[key];
  if (value === undefined || value === null) throw missingField(key);
  return value;
}

function text(record: JsonRecord, key: string): string | null {
  const value = record[key];
  if (isEmpty(value)) return null;
  if (typeof value !== 'string') throw badField(key, 'a string', value);
  return value;
}

/** A number, or a string of digits; `undefined` when empty. */
function numeric(value: unknown, key: string, expected: string): number | undefined {
  if (isEmpty(value)) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && isDigits(value)) return Number(value);
  throw badField(key, expected, value);
}

function count(record: JsonRecord, key: string): number {
  const value = numeric(required(record, key), key, 'a non-negative integer');
  if (value === undefined || !Number.isSafeInteger(value) || value < 0) throw badField(key, 'a non-negative integer', record[key]);
  return value;
}

function millis(record: JsonRecord, key: string): number {
  const seconds = numeric(required(record, key), key, 'epoch seconds');
  const value = seconds === undefined ? NaN : Math.round(seconds * 1000);
  if (!Number.isSafeInteger(value) || value < 0) throw badField(key, 'epoch seconds', record[key]);
  return value;
}

function port(record: JsonRecord, key: string): number | null {
  const value = numeric(record[key], key, 'a port 0-65535');
  if (value === undefined) return null;
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw badField(key, 'a port 0-65535', record[key]);
  return value;
}

function optionalLong(record: JsonRecord, key: string): number | null {
  const value = numeric(record[key], key, 'an integer');
  if (value === undefined) return null;
  if (!Number.isSafeInteger(value)) throw badField(key, 'an integer', record[key]);
  return value;
}

function optionalDouble(record: JsonRecord, key: string): number | null {
  return numeric(record[key], key, 'a number') ?? null;
}

function word(record: JsonRecord, key: string): string {
  const value = required(record, key);
  if (typeof value !== 'string') throw badField(key, 'a string', value);
  return value;
}

function ip(record: JsonRecord, key: string): string | null {
  const value = record[key];
  if (isEmpty(value)) return null;
  if (typeof value !== 'string') throw badField(key, 'an IP address', value);
  return ipOf(value, key);
}

function proto(record: JsonRecord): number {
  const value = required(record, 'proto');
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 255) return value;
    throw badField('proto', 'a protocol number 0-255 or name', value);
  }
  if (typeof value !== 'string') throw badField('proto', 'a protocol number 0-255 or name', value);
  return protoOf(value, 'proto');
}

function stringList(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw badField(key, 'a list of strings', value);
  return value as string[];
}

function labels(record: JsonRecord, key: string): Labels | null {
  const value = record[key];
  if (isEmpty(value)) return null;
  if (typeof value === 'string') return labelsOfText(value, key);
  if (Array.isArray(value)) return labelsOfEntries(value, key);
  if (!isRecord(value)) throw badField(key, 'labels', value);
  const list = value['labels'];
  if (Array.isArray(list)) return labelsOfEntries(list, key);
  if (list === null && Object.keys(value).length === 1) return null;
  const entries = Object.entries(value);
  if (!entries.every(([, labelValue]) => typeof labelValue === 'string')) throw badField(key, 'labels', value);
  return Object.fromEntries(entries) as Labels;
}

function policies(record: JsonRecord): string[] {
  const value = record['policies'];
  if (isEmpty(value)) return [];
  if (Array.isArray(value)) return stringList(value, 'policies');
  if (!isRecord(value)) throw badField('policies', 'a list of policies', value);
  const list = value['all_policies'] ?? value['enforced_policies'];
  return list === undefined || list === null ? [] : stringList(list, 'policies');
}

function processArgs(record: JsonRecord): string[] {
  const value = record['process_args'];
  return isEmpty(value) ? [] : stringList(value, 'process_args');
}

function processId(record: JsonRecord): string | null {
  const value = record['process_id'];
  if (isEmpty(value)) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string') throw badField('process_id', 'a process id', value);
  return value;
}

interface Endpoint {
  readonly type: EndpointType | null;
  readonly nameAggr: string | null;
}

function endpoint(record: JsonRecord, prefix: 'source' | 'dest'): Endpoint {
  const key = `${prefix}_type`;
  const value = record[key];
  const nameAggr = text(record, `${prefix}_name_aggr`);
  if (value === undefined || value === null) return { type: null, nameAggr };
  if (typeof value !== 'string') throw badField(key, 'an endpoint type', value);
  const kind = endpointKindOf(value, key);
  return { type: kind.type, nameAggr: kind.network ?? nameAggr };
}

function host(record: JsonRecord, options: CalicoJsonOptions): string {
  const value = record['host'];
  if (typeof value === 'string' && value !== '' && value !== '-') return value;
  if (isEmpty(value) && options.host !== undefined) return options.host;
  if (isEmpty(value)) throw missingField('host');
  throw badField('host', 'a node name', value);
}

/** A flow record nests three levels deep (record, labels, list); garbage may nest thousands. */
const MAX_DEPTH = 32;
/** Shorter lines cannot nest deep enough to matter. */
const DEPTH_CHECK_FROM = 4096;

/**
 * Rejects deep nesting in one pass before JSON.parse sees it: V8's parser slows down more than
 * linearly on tens of thousands of open brackets.
 */
function assertShallow(line: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (inString) {
      if (code === 92) i++;
      else if (code === 34) inString = false;
    } else if (code === 34) {
      inString = true;
    } else if (code === 123 || code === 91) {
      if (++depth > MAX_DEPTH) throw new IngestError(calicoProblemCodes.badJson, `not a flow record: nested deeper than ${MAX_DEPTH} levels`);
    } else if (code === 125 || code === 93) {
      depth--;
    }
  }
}

function parseObject(line: string): JsonRecord {
  if (line.length >= DEPTH_CHECK_FROM) assertShallow(line);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'nested too deeply';
    throw new IngestError(calicoProblemCodes.badJson, `not JSON: ${reason.length > 120 ? `${reason.slice(0, 120)}…` : reason}`);
  }
  if (!isRecord(value)) throw new IngestError(calicoProblemCodes.badLine, 'expected a JSON object per line');
  return value;
}

/** One JSON line as a RawFlow; throws an IngestError naming the bad field. */
export function parseCalicoJson(line: string, options: CalicoJsonOptions = {}): RawFlow {
  const r = parseObject(line);
  const source = endpoint(r, 'source');
  const dest = endpoint(r, 'dest');
  const servicePort = r['dest_service_port'];
  const servicePortIsNumber = typeof servicePort === 'number';
  return {
    start_time: millis(r, 'start_time'),
    end_time: millis(r, 'end_time'),
    origin: 'calico',
    host: host(r, options),
    source_ip: ip(r, 'source_ip'),
    source_port: port(r, 'source_port'),
    source_type: source.type,
    source_namespace: text(r, 'source_namespace'),
    source_name: text(r, 'source_name'),
    source_name_aggr: source.nameAggr,
    source_labels: labels(r, 'source_labels'),
    dest_ip: ip(r, 'dest_ip'),
    dest_port: port(r, 'dest_port'),
    dest_type: dest.type,
    dest_namespace: text(r, 'dest_namespace'),
    dest_name: text(r, 'dest_name'),
    dest_name_aggr: dest.nameAggr,
    dest_labels: labels(r, 'dest_labels'),
    dest_service_namespace: text(r, 'dest_service_namespace'),
    dest_service_name: text(r, 'dest_service_name'),
    dest_service_port: servicePortIsNumber ? null : text(r, 'dest_service_port'),
    dest_service_port_num: isEmpty(r['dest_service_port_num']) && servicePortIsNumber ? port(r, 'dest_service_port') : port(r, 'dest_service_port_num'),
    proto: proto(r),
    reporter: reporterOf(word(r, 'reporter'), 'reporter'),
    action: actionOf(word(r, 'action'), 'action'),
    policies: policies(r),
    bytes_in: count(r, 'bytes_in'),
    bytes_out: count(r, 'bytes_out'),
    packets_in: count(r, 'packets_in'),
    packets_out: count(r, 'packets_out'),
    num_flows: count(r, 'num_flows'),
    num_flows_started: count(r, 'num_flows_started'),
    num_flows_completed: count(r, 'num_flows_completed'),
    process_name: text(r, 'process_name'),
    process_id: processId(r),
    process_args: processArgs(r),
    tcp_mean_send_congestion_window: optionalDouble(r, 'tcp_mean_send_congestion_window'),
    tcp_min_send_congestion_window: optionalLong(r, 'tcp_min_send_congestion_window'),
    tcp_mean_smooth_rtt: optionalDouble(r, 'tcp_mean_smooth_rtt'),
    tcp_max_smooth_rtt: optionalLong(r, 'tcp_max_smooth_rtt'),
    tcp_mean_min_rtt: optionalDouble(r, 'tcp_mean_min_rtt'),
    tcp_max_min_rtt: optionalLong(r, 'tcp_max_min_rtt'),
    tcp_mean_mss: optionalDouble(r, 'tcp_mean_mss'),
    tcp_min_mss: optionalLong(r, 'tcp_min_mss'),
    tcp_total_retransmissions: optionalLong(r, 'tcp_total_retransmissions'),
    tcp_lost_packets: optionalLong(r, 'tcp_lost_packets'),
    tcp_unrecovered_to: optionalLong(r, 'tcp_unrecovered_to'),
  };
}

/** A LineParser of Calico Enterprise JSON lines for a LineFileSource; blank lines are skipped. */
export function calicoJsonParser(options: CalicoJsonOptions = {}): LineParser {
  return (line) => (line.trim() === '' ? null : parseCalicoJson(line, options));
}
