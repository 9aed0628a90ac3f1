/** The query model evaluated over a flow record in plain TypeScript: what the memory store runs. Pure. */
import { parseCidr, type Cidr } from '../../enrich/addresses.js';
import type { EnrichedFlow } from '../../schemas/types.js';
import type { EndFilter, FlowFilter } from './flow-filter.js';
import { endOf, type Side } from './results.js';

const cidrs = new Map<string, Cidr | undefined>();

function cidrOf(text: string): Cidr | undefined {
  if (!cidrs.has(text)) {
    let parsed: Cidr | undefined;
    try {
      parsed = parseCidr(text);
    } catch {
      parsed = undefined;
    }
    if (cidrs.size > 10_000) cidrs.clear();
    cidrs.set(text, parsed);
  }
  return cidrs.get(text);
}

/** A block in the 128-bit space: an IPv4 one as its IPv4-mapped IPv6 block. */
const widened = (cidr: Cidr): { network: bigint; prefix: number } =>
  cidr.bits === 32 ? { network: (0xffffn << 32n) | cidr.network, prefix: cidr.prefix + 96 } : { network: cidr.network, prefix: cidr.prefix };

/** Whether an address lies in a block (a bare address is a block of one). */
export function ipInBlock(ip: string | null | undefined, block: string): boolean {
  if (!ip) return false;
  const address = cidrOf(ip);
  const range = cidrOf(block);
  if (!address || !range) return false;
  // As OpenSearch's ip type: IPv4 lives in IPv6 as ::ffff:a.b.c.d, so an IPv6 block over that range holds IPv4 addresses.
  const [a, r] = [widened(address), widened(range)];
  const hostBits = BigInt(128 - r.prefix);
  return a.network >> hostBits === r.network >> hostBits;
}

const oneOf = <T>(values: readonly T[] | undefined, value: T | null | undefined): boolean =>
  !values || values.length === 0 || (value !== null && value !== undefined && values.includes(value));

export function endMatches(flow: EnrichedFlow, side: Side, end: EndFilter): boolean {
  const identity = endOf(flow, side);
  const labels = (side === 'source' ? flow.source_labels : flow.dest_labels) ?? {};
  const port = side === 'source' ? flow.source_port : flow.dest_port;
  return (
    oneOf(end.namespace, identity.namespace) &&
    oneOf(end.name, identity.name) &&
    oneOf(end.name_aggr, identity.name_aggr) &&
    oneOf(end.workload, identity.workload) &&
    oneOf(end.port, port) &&
    (end.ip === undefined || end.ip.length === 0 || end.ip.some((block) => ipInBlock(identity.ip, block))) &&
    (end.label ?? []).every((pair) => {
      const at = pair.indexOf('=');
      const key = pair.slice(0, at);
      return Object.hasOwn(labels, key) && labels[key] === pair.slice(at + 1);
    })
  );
}

export function flowMatches(flow: EnrichedFlow, filter: FlowFilter): boolean {
  return (
    (filter.from === undefined || flow.end_time >= filter.from) &&
    (filter.to === undefined || flow.end_time < filter.to) &&
    oneOf(filter.proto, flow.proto) &&
    oneOf(filter.action, flow.action) &&
    oneOf(filter.reporter, flow.reporter) &&
    oneOf(filter.host, flow.host) &&
    (!filter.source || endMatches(flow, 'source', filter.source)) &&
    (!filter.dest || endMatches(flow, 'dest', filter.dest)) &&
    (filter.any ?? []).every((end) => endMatches(flow, 'source', end) || endMatches(flow, 'dest', end))
  );
}
