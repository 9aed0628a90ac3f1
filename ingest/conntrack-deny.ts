/**
 * Denied attempts, counted by the kernel in an nftables set. A rejected or dropped new
 * connection is never confirmed in the connection table (no entry, no DESTROY event), so the
 * deny rule itself has to count it: the rule that denies is preceded by a rule that updates a
 * dynamic set keyed by `saddr . daddr . l4proto . dport`, with a counter per element:
 *
 *   set denied { type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags dynamic,timeout;
 *                timeout 10m; size 65536; counter; }
 *   ... update @denied { ip saddr . ip daddr . meta l4proto . th dport }
 *   ... counter name denied_total reject
 *
 * The kernel aggregates per key, so reading costs O(keys) per interval, whatever the attempt
 * rate (per-packet NFLOG would cost a userspace wake-up per packet and needs a netlink reader
 * Node does not have). The source port is not kept (it would make every attempt a key); deny
 * records are at the `no-source-port` level. The set is bounded by `size`: when it is full, the
 * update fails but the reject rule (a separate rule) still applies; the named counter on the
 * reject rule counts every denied packet, so what the set missed is counted as unattributed.
 * An element idle for `timeout` expires; polling more often than the timeout loses nothing.
 *
 * Pure: parsing of `nft -j list set` / `nft -j list counter` output and per-element deltas.
 */
import { isIP } from 'node:net';
import { IngestError } from './problems.js';
import { protocolNumbers } from './protocols.js';

export interface DenyElement {
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
  readonly dport: number | null;
  readonly packets: number;
  readonly bytes: number;
}

export interface DenyDelta {
  readonly element: DenyElement;
  readonly packets: number;
  readonly bytes: number;
}

function objectOf(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function countOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function nftObjects(text: string, kind: string): Record<string, unknown>[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new IngestError('INGEST_BAD_LINE', `nft output is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const list = objectOf(doc)?.nftables;
  if (!Array.isArray(list)) throw new IngestError('INGEST_BAD_LINE', 'nft output has no "nftables" array');
  const found = list.map((item) => objectOf(objectOf(item)?.[kind])).filter((item): item is Record<string, unknown> => item !== null);
  if (found.length === 0) throw new IngestError('INGEST_BAD_LINE', `nft output holds no ${kind}`);
  return found;
}

function elementOf(raw: unknown): DenyElement | string {
  const wrapped = objectOf(objectOf(raw)?.elem);
  const val = objectOf(wrapped?.val ?? raw);
  const parts = val?.concat;
  if (!Array.isArray(parts) || parts.length !== 4) return 'element is not saddr . daddr . l4proto . dport';
  const [src, dst, protoValue, port] = parts as unknown[];
  if (typeof src !== 'string' || isIP(src) === 0 || typeof dst !== 'string' || isIP(dst) === 0) return 'element addresses are not IP addresses';
  const proto = typeof protoValue === 'number' ? protoValue : typeof protoValue === 'string' ? (protocolNumbers.get(protoValue) ?? Number(protoValue)) : NaN;
  if (!Number.isInteger(proto) || proto < 0 || proto > 255) return `element protocol ${JSON.stringify(protoValue)} is unknown`;
  const dport = typeof port === 'number' ? port : typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(dport) || dport < 0 || dport > 65_535) return `element port ${JSON.stringify(port)} is not a number`;
  const counter = objectOf(wrapped?.counter);
  const packets = countOf(counter?.packets);
  const bytes = countOf(counter?.bytes);
  if (packets === null || bytes === null) return 'element has no counter (declare the set with `counter`)';
  return { src, dst, proto, dport: proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 136 ? dport : null, packets, bytes };
}

/** `nft -j list set <family> <table> <set>` → its elements; elements of another shape are listed in `skipped`. */
export function parseNftDenySet(text: string): { elements: DenyElement[]; skipped: string[] } {
  const [set] = nftObjects(text, 'set');
  const raw = set?.elem;
  const elements: DenyElement[] = [];
  const skipped: string[] = [];
  if (raw === undefined) return { elements, skipped };
  if (!Array.isArray(raw)) throw new IngestError('INGEST_BAD_FIELD', 'set "elem" is not an array');
  for (const item of raw) {
    const element = elementOf(item);
    if (typeof element === 'string') skipped.push(element);
    else elements.push(element);
  }
  return { elements, skipped };
}

/** `nft -j list counter <family> <table> <name>` → its packets and bytes. */
export function parseNftCounter(text: string): { packets: number; bytes: number } {
  const [counter] = nftObjects(text, 'counter');
  const packets = countOf(counter?.packets);
  const bytes = countOf(counter?.bytes);
  if (packets === null || bytes === null) throw new IngestError('INGEST_BAD_FIELD', 'counter has no packets/bytes');
  return { packets, bytes };
}

export interface DenySetRules {
  /** `ip` (IPv4) or `ip6`. */
  readonly family: 'ip' | 'ip6';
  readonly set: string;
  readonly size?: number;
  readonly timeoutSeconds?: number;
}

/** The set declaration, to place in the table of the deny rules. */
export function denySetDeclaration({ family, set, size = 65_536, timeoutSeconds = 600 }: DenySetRules): string {
  const addr = family === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
  return `set ${set} { type ${addr} . ${addr} . inet_proto . inet_service; flags dynamic,timeout; timeout ${timeoutSeconds}s; size ${size}; counter; }`;
}

/** The statement to put in a rule right before each deny rule, with the same match. */
export function denyUpdateStatement({ family, set }: DenySetRules): string {
  return `update @${set} { ${family} saddr . ${family} daddr . meta l4proto . th dport }`;
}

export interface DenyTableStats {
  readonly polls: number;
  readonly elements: number;
  /** Elements not tracked because the table was full (per poll). */
  readonly overflow: number;
  /** Elements whose counters went down (expired and re-added between polls). */
  readonly resets: number;
}

/** Per-element deltas between reads of the set; bounded like the connection table. */
export class DenyCounterTable {
  private readonly last = new Map<string, { packets: number; bytes: number; seen: number }>();
  private generation = 0;
  private overflow = 0;
  private resets = 0;

  constructor(
    private readonly maxElements = 65_536,
    private readonly firstPollIsBaseline = true,
  ) {}

  poll(elements: readonly DenyElement[], emit: (delta: DenyDelta) => void): void {
    const gen = ++this.generation;
    const quiet = this.firstPollIsBaseline && gen === 1;
    for (const element of elements) {
      const key = `${element.src} ${element.dst} ${element.proto} ${element.dport ?? '-'}`;
      const before = this.last.get(key);
      if (before === undefined) {
        if (this.last.size >= this.maxElements) {
          this.overflow++;
          continue;
        }
        this.last.set(key, { packets: element.packets, bytes: element.bytes, seen: gen });
        if (!quiet && element.packets > 0) emit({ element, packets: element.packets, bytes: element.bytes });
        continue;
      }
      const reset = element.packets < before.packets || element.bytes < before.bytes;
      if (reset) this.resets++;
      const packets = reset ? element.packets : element.packets - before.packets;
      const bytes = reset ? element.bytes : element.bytes - before.bytes;
      before.packets = element.packets;
      before.bytes = element.bytes;
      before.seen = gen;
      if (packets > 0) emit({ element, packets, bytes });
    }
    for (const [key, value] of this.last) if (value.seen !== gen) this.last.delete(key);
  }

  stats(): DenyTableStats {
    return { polls: this.generation, elements: this.last.size, overflow: this.overflow, resets: this.resets };
  }
}
