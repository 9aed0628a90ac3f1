/**
 * The two ways a question comes in, CLI flags and HTTP query parameters, parsed to the same
 * model. One catalogue of parameters (snake_case names; the flag is `--` and the name with
 * dashes: `dest_port` is `--dest-port`), every problem collected and named by the flag or
 * parameter it is about. Pure.
 */
import { canonicalIp, parseCidr } from '../../enrich/addresses.js';
import type { FlowAction, Reporter } from '../../schemas/types.js';
import { decodeCursor } from './cursor.js';
import {
  endFields,
  protocolNumbers,
  type EndField,
  type EndFilter,
  type FlowFilter,
  type GraphNode,
  type PodRef,
  type TalkerKey,
  type TalkerSide,
  type TimelineRequest,
  type TopTalkersRequest,
} from './flow-filter.js';
import type { PageRequest } from './flow-store.js';
import { parseDuration, parseTime, timeForms } from './time-parse.js';

export const questions = ['flows', 'timeline', 'top-talkers', 'graph', 'who-talked-to'] as const;
export type Question = (typeof questions)[number];

export type QueryRequest =
  | { readonly question: 'flows'; readonly filter: FlowFilter; readonly page: PageRequest }
  | { readonly question: 'timeline'; readonly timeline: TimelineRequest; readonly page: PageRequest }
  | { readonly question: 'top-talkers'; readonly filter: FlowFilter; readonly top: TopTalkersRequest }
  | { readonly question: 'graph'; readonly filter: FlowFilter; readonly node: GraphNode }
  | { readonly question: 'who-talked-to'; readonly ip: string; readonly filter: FlowFilter };

/** Where parameter values come from, and how a parameter is named to the user. */
export interface ParameterSource {
  /** Every value given for a parameter, in order (empty when absent). */
  values(name: string): readonly string[];
  /** The names of every parameter given. */
  names(): readonly string[];
  /** `--dest-port` or `dest_port`. */
  label(name: string): string;
}

export const flagOf = (name: string) => `--${name.replace(/_/g, '-')}`;

/** Parameters from `parseArgs` values (flags as keys, dashes in them); every option `multiple`. */
export function flagSource(values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>): ParameterSource {
  const byName = new Map<string, string[]>();
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined) continue;
    byName.set(flag.replace(/-/g, '_'), (Array.isArray(value) ? value : [value]).map(String));
  }
  return { values: (name) => byName.get(name) ?? [], names: () => [...byName.keys()], label: flagOf };
}

export function searchParamSource(params: URLSearchParams): ParameterSource {
  return { values: (name) => params.getAll(name), names: () => [...new Set(params.keys())], label: (name) => name };
}

// ---------------------------------------------------------------------------------------------
// The catalogue

const sides = { source: 'source_', dest: 'dest_', any: '' } as const;
const endParameter = (side: keyof typeof sides, field: EndField) => `${sides[side]}${field}`;

export const filterParameters: readonly string[] = [
  'from',
  'to',
  ...(['source', 'dest', 'any'] as const).flatMap((side) => endFields.map((field) => endParameter(side, field))),
  'proto',
  'action',
  'reporter',
  'host',
];

const pageParameters = ['limit', 'cursor'];

/** The filter parameters each question takes: a timeline's window is its own, `ip` of timeline and who-talked-to is its subject. */
const filtersOf: Readonly<Record<Question, ReadonlySet<string>>> = {
  flows: new Set(filterParameters),
  timeline: new Set(filterParameters.filter((name) => !['from', 'to', 'ip'].includes(name))),
  'top-talkers': new Set(filterParameters),
  graph: new Set(filterParameters),
  'who-talked-to': new Set(filterParameters.filter((name) => !['ip', 'dest_ip'].includes(name))),
};

/** Every parameter each question takes. */
export const parametersOf: Readonly<Record<Question, readonly string[]>> = {
  flows: [...filtersOf.flows, ...pageParameters],
  timeline: ['pod', 'ip', 'at', 'before', 'after', ...filtersOf.timeline, ...pageParameters],
  'top-talkers': [...filtersOf['top-talkers'], 'by', 'key', 'limit'],
  graph: [...filtersOf.graph, 'node'],
  'who-talked-to': ['ip', ...filtersOf['who-talked-to']],
};

/** What each parameter means: the help of the CLI and the README. */
export const parameterHelp: Readonly<Record<string, string>> = {
  from: `flows that ended at or after this time: ${timeForms}`,
  to: 'flows that ended before this time (same forms)',
  namespace: 'namespace of either end (also source_namespace, dest_namespace)',
  name: 'pod (or host) name of either end',
  name_aggr: 'aggregated name of either end (frontend-7d9f8c6b5-*, pub, pvt)',
  workload: 'workload of either end (deployment/frontend)',
  label: 'label key=value of either end; every one given must be there',
  ip: 'address or CIDR block of either end',
  port: 'port of either end',
  proto: 'protocol: tcp, udp, icmp, icmpv6, sctp or a number',
  action: 'allow or deny',
  reporter: 'src or dst',
  host: 'the node that reported the flow',
  limit: 'at most this many rows',
  cursor: 'the page after this cursor (printed with the previous page)',
  pod: 'timeline: the pod, namespace/name',
  at: 'timeline: the moment looked at',
  before: 'timeline: how long before --at (default 15m)',
  after: 'timeline: how long after --at (default 15m)',
  by: 'top-talkers: source, dest or pair (default source)',
  key: 'top-talkers: workload, name_aggr or ip (default workload)',
  node: 'graph: workload or name_aggr (default workload)',
};

// ---------------------------------------------------------------------------------------------
// Values

export const maxLimit = 10_000;

class Reader {
  readonly problems: string[] = [];
  constructor(
    private readonly source: ParameterSource,
    readonly now: number,
  ) {}

  label(name: string): string {
    return this.source.label(name);
  }

  problem(name: string, message: string): void {
    this.problems.push(`${this.label(name)}: ${message}`);
  }

  has(name: string): boolean {
    return this.source.values(name).length > 0;
  }

  /** The one value of a parameter; a repeated one is a problem. */
  single(name: string): string | undefined {
    const values = this.source.values(name);
    if (values.length > 1) this.problem(name, `given ${values.length} times, once at most`);
    return values[0];
  }

  /** Every value, comma-separated lists split, each read by `read` (undefined: a problem, said by `expected`). */
  list<T>(name: string, read: (value: string) => T | undefined, expected: string): T[] | undefined {
    const texts = this.source.values(name).flatMap((value) => value.split(','));
    if (texts.length === 0) return undefined;
    const values: T[] = [];
    for (const text of texts) {
      const value = read(text.trim());
      if (value === undefined) this.problem(name, `'${text}' is not ${expected}`);
      else if (!values.includes(value)) values.push(value);
    }
    return values;
  }

  time(name: string): number | undefined {
    const text = this.single(name);
    if (text === undefined) return undefined;
    const time = parseTime(text, this.now);
    if (time === undefined) this.problem(name, `'${text}' is not a time: ${timeForms}`);
    return time;
  }

  duration(name: string, fallback: number): number {
    const text = this.single(name);
    if (text === undefined) return fallback;
    const duration = parseDuration(text);
    if (duration === undefined) this.problem(name, `'${text}' is not a duration (90s, 5m, 1h, 2d)`);
    return duration ?? fallback;
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const given = this.single(name);
    if (given === undefined) return fallback;
    const text = given.replace(/-/g, '_');
    if ((choices as readonly string[]).includes(text)) return text as T;
    this.problem(name, `'${given}' is not one of ${choices.join(', ')}`);
    return fallback;
  }

  limit(fallback: number): number {
    const text = this.single('limit');
    if (text === undefined) return fallback;
    const limit = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
    if (limit >= 1 && limit <= maxLimit) return limit;
    this.problem('limit', `'${text}' is not a whole number from 1 to ${maxLimit}`);
    return fallback;
  }
}

const nonEmpty = (value: string) => (value === '' ? undefined : value);
const readPort = (value: string) => (/^\d{1,5}$/.test(value) && Number(value) <= 65_535 ? Number(value) : undefined);
const readProto = (value: string) => protocolNumbers[value.toLowerCase()] ?? (/^\d{1,3}$/.test(value) && Number(value) <= 255 ? Number(value) : undefined);
const readLabel = (value: string) => (/^[^=\s]+=[^\s]*$/.test(value) ? value : undefined);
const readEnum =
  <T extends string>(choices: readonly T[]) =>
  (value: string) =>
    (choices as readonly string[]).includes(value) ? (value as T) : undefined;

/** An address or CIDR block in one spelling (`10.0.1.0/24`, `10.0.1.5`), or undefined. */
export function readIpOrBlock(value: string): string | undefined {
  if (!value.includes('/')) return canonicalIp(value);
  try {
    const block = parseCidr(value);
    const dotted = (network: bigint) => [24n, 16n, 8n, 0n].map((shift) => String((network >> shift) & 0xffn)).join('.');
    if (block.bits === 32) return `${dotted(block.network)}/${block.prefix}`;
    // An IPv4-mapped block (::ffff:a.b.c.d/96+n) is the IPv4 block a.b.c.d/n, as OpenSearch reads it.
    if (block.prefix >= 96 && block.network >> 32n === 0xffffn) return `${dotted(block.network & 0xffffffffn)}/${block.prefix - 96}`;
    const groups: string[] = [];
    for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((block.network >> shift) & 0xffffn).toString(16));
    const canonical = canonicalIp(groups.join(':'));
    return `${canonical?.includes(':') ? canonical : groups.join(':')}/${block.prefix}`;
  } catch {
    return undefined;
  }
}

const endReaders: Readonly<Record<EndField, [(value: string) => string | number | undefined, string]>> = {
  namespace: [nonEmpty, 'a namespace'],
  name: [nonEmpty, 'a name'],
  name_aggr: [nonEmpty, 'an aggregated name'],
  workload: [nonEmpty, 'a workload'],
  label: [readLabel, 'a label key=value'],
  ip: [readIpOrBlock, 'an IP address or CIDR block'],
  port: [readPort, 'a port (0-65535)'],
};

function readEnd(reader: Reader, side: keyof typeof sides, accepted: ReadonlySet<string>): EndFilter | undefined {
  const end: Record<string, unknown[]> = {};
  for (const field of endFields) {
    const name = endParameter(side, field);
    if (!accepted.has(name)) continue;
    const [read, expected] = endReaders[field];
    const values = reader.list(name, read, expected);
    if (values && values.length > 0) end[field] = values;
  }
  return Object.keys(end).length > 0 ? (end as EndFilter) : undefined;
}

function readFilter(reader: Reader, accepted: ReadonlySet<string>): FlowFilter {
  const from = accepted.has('from') ? reader.time('from') : undefined;
  const to = accepted.has('to') ? reader.time('to') : undefined;
  if (from !== undefined && to !== undefined && from >= to) {
    reader.problem('from', `${new Date(from).toISOString()} is not before ${reader.label('to')} ${new Date(to).toISOString()}`);
  }
  const source = readEnd(reader, 'source', accepted);
  const dest = readEnd(reader, 'dest', accepted);
  const any = readEnd(reader, 'any', accepted);
  const proto = reader.list('proto', readProto, `a protocol (${Object.keys(protocolNumbers).join(', ')} or 0-255)`);
  const action = reader.list<FlowAction>('action', readEnum<FlowAction>(['allow', 'deny']), 'allow or deny');
  const reporter = reader.list<Reporter>('reporter', readEnum<Reporter>(['src', 'dst']), 'src or dst');
  const host = reader.list('host', nonEmpty, 'a host name');
  return {
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
    ...(source ? { source } : {}),
    ...(dest ? { dest } : {}),
    ...(any ? { any: [any] } : {}),
    ...(proto?.length ? { proto } : {}),
    ...(action?.length ? { action } : {}),
    ...(reporter?.length ? { reporter } : {}),
    ...(host?.length ? { host } : {}),
  };
}

function readPage(reader: Reader, fallbackLimit: number): PageRequest {
  const limit = reader.limit(fallbackLimit);
  const cursor = reader.single('cursor');
  if (cursor !== undefined && !decodeCursor(cursor)) reader.problem('cursor', 'not a cursor this API gave (use the one printed with the previous page)');
  return { limit, ...(cursor !== undefined ? { cursor } : {}) };
}

function readPod(reader: Reader): PodRef | undefined {
  const pod = reader.single('pod');
  const ip = reader.single('ip');
  if (pod !== undefined && ip !== undefined) {
    reader.problem('pod', `give ${reader.label('pod')} or ${reader.label('ip')}, not both`);
    return undefined;
  }
  if (ip !== undefined) {
    const address = canonicalIp(ip.trim());
    if (address === undefined) reader.problem('ip', `'${ip}' is not an IP address`);
    return address === undefined ? undefined : { ip: address };
  }
  if (pod === undefined) {
    reader.problem('pod', `missing: give the pod as namespace/name (or ${reader.label('ip')})`);
    return undefined;
  }
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(pod.trim());
  if (!match) reader.problem('pod', `'${pod}' is not namespace/name`);
  return match ? { namespace: match[1]!, name: match[2]! } : undefined;
}

export const defaultFlowLimit = 100;
export const defaultTalkerLimit = 10;
export const defaultWindow = 15 * 60_000;

export interface ParseOptions {
  /** What relative times count from. */
  readonly now: number;
  /** Parameters the caller reads itself (`format`): not unknown. */
  readonly extra?: readonly string[];
}

/** The question a set of parameters asks, or every problem with them. */
export function parseQuery(question: Question, source: ParameterSource, options: ParseOptions): { request?: QueryRequest; problems: string[] } {
  const reader = new Reader(source, options.now);
  const accepted = new Set(parametersOf[question]);
  for (const name of source.names()) {
    if (!accepted.has(name) && !options.extra?.includes(name)) reader.problem(name, `unknown for ${question}`);
  }
  const request = readRequest(question, reader, filtersOf[question]);
  return reader.problems.length > 0 ? { problems: reader.problems } : { request, problems: [] };
}

function readRequest(question: Question, reader: Reader, filters: ReadonlySet<string>): QueryRequest {
  switch (question) {
    case 'flows':
      return { question, filter: readFilter(reader, filters), page: readPage(reader, defaultFlowLimit) };
    case 'timeline': {
      const pod = readPod(reader);
      if (!reader.has('at')) reader.problem('at', `missing: the moment looked at (${timeForms})`);
      const at = reader.time('at');
      const before = reader.duration('before', defaultWindow);
      const after = reader.duration('after', defaultWindow);
      const filter = readFilter(reader, filters);
      const timeline: TimelineRequest = { pod: pod ?? { ip: '0.0.0.0' }, at: at ?? 0, before, after, ...(Object.keys(filter).length > 0 ? { filter } : {}) };
      return { question, timeline, page: readPage(reader, defaultFlowLimit) };
    }
    case 'top-talkers': {
      const filter = readFilter(reader, filters);
      const by = reader.choice<TalkerSide>('by', ['source', 'dest', 'pair'], 'source');
      const key = reader.choice<TalkerKey>('key', ['workload', 'name_aggr', 'ip'], 'workload');
      return { question, filter, top: { by, key, limit: reader.limit(defaultTalkerLimit) } };
    }
    case 'graph':
      return { question, filter: readFilter(reader, filters), node: reader.choice<GraphNode>('node', ['workload', 'name_aggr'], 'workload') };
    case 'who-talked-to': {
      const text = reader.single('ip');
      const ip = text === undefined ? undefined : readIpOrBlock(text.trim());
      if (text === undefined) reader.problem('ip', 'missing: the address (or CIDR block) talked to');
      else if (ip === undefined) reader.problem('ip', `'${text}' is not an IP address or CIDR block`);
      return { question, ip: ip ?? '0.0.0.0', filter: readFilter(reader, filters) };
    }
  }
}
