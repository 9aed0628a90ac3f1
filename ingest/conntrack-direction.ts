/**
 * Which end of a connection this node reports for. The node knows its local endpoints (its pod
 * addresses or pod CIDR blocks, and its own host addresses):
 *
 * - originator local, responder not: one `src` record (egress);
 * - responder local, originator not: one `dst` record (ingress);
 * - both local (pod to pod on the same node): both records by default, as Calico writes one flow
 *   log per endpoint; `bothLocal: 'src'` keeps only the egress record;
 * - neither local (transit traffic, or addresses the node was not told about): no record; the
 *   collector counts it.
 *
 * The responder is the reply tuple's source, so after DNAT (a service address) the record names
 * the pod that answered, not the service address.
 */
import { BlockList, isIP } from 'node:net';
import type { Reporter } from '../schemas/types.js';

export type BothLocal = 'both' | 'src';

const NONE: readonly Reporter[] = [];
const SRC: readonly Reporter[] = ['src'];
const DST: readonly Reporter[] = ['dst'];
const BOTH: readonly Reporter[] = ['src', 'dst'];

/** The IPv4 address as an unsigned 32-bit number, or -1. */
function ipv4Number(address: string): number {
  let value = 0;
  let octet = -1;
  let parts = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i === address.length ? 46 : address.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || octet > 255) return -1;
      value = value * 256 + octet;
      octet = -1;
      parts++;
    } else if (c >= 48 && c <= 57) {
      octet = (octet < 0 ? 0 : octet * 10) + (c - 48);
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

/** A set of addresses and CIDR blocks (IPv4 and IPv6). IPv4 blocks are matched arithmetically; IPv6 through a BlockList, cached. */
export class LocalEndpoints {
  private readonly exact = new Set<string>();
  private readonly v4Blocks: { readonly base: number; readonly size: number }[] = [];
  private readonly v6Blocks = new BlockList();
  private hasV6Blocks = false;
  private readonly cache = new Map<string, boolean>();

  /** Throws RangeError naming the first entry that is neither an address nor a CIDR block. */
  static of(list: readonly string[]): LocalEndpoints {
    const local = new LocalEndpoints();
    for (const item of list) local.add(item);
    return local;
  }

  add(item: string): void {
    const slash = item.indexOf('/');
    const addr = slash < 0 ? item : item.slice(0, slash);
    const family = isIP(addr);
    if (family === 0) throw new RangeError(`local endpoint ${JSON.stringify(item)} is not an IP address or CIDR block`);
    if (slash < 0) {
      this.exact.add(family === 6 ? addr.toLowerCase() : addr);
      if (family === 6) {
        this.v6Blocks.addAddress(addr, 'ipv6');
        this.hasV6Blocks = true;
        this.cache.clear();
      }
      return;
    }
    const prefix = Number(item.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new RangeError(`local endpoint ${JSON.stringify(item)} has a bad prefix length`);
    }
    if (family === 4) {
      const size = 2 ** (32 - prefix);
      this.v4Blocks.push({ base: Math.floor(ipv4Number(addr) / size) * size, size });
    } else {
      this.v6Blocks.addSubnet(addr, prefix, 'ipv6');
      this.hasV6Blocks = true;
      this.cache.clear();
    }
  }

  has(address: string): boolean {
    if (this.exact.has(address)) return true;
    const v4 = ipv4Number(address);
    if (v4 >= 0) {
      for (const block of this.v4Blocks) if (v4 >= block.base && v4 < block.base + block.size) return true;
      return false;
    }
    if (!this.hasV6Blocks || isIP(address) !== 6) return false;
    const cached = this.cache.get(address);
    if (cached !== undefined) return cached;
    const inside = this.v6Blocks.check(address, 'ipv6');
    if (this.cache.size >= 65_536) this.cache.clear();
    this.cache.set(address, inside);
    return inside;
  }
}

/** The records to write for a connection from `originator` to `responder`; empty when neither is local. */
export function reportersOf(local: LocalEndpoints, originator: string, responder: string, bothLocal: BothLocal = 'both'): readonly Reporter[] {
  const out = local.has(originator);
  const into = local.has(responder);
  if (out && into) return bothLocal === 'both' ? BOTH : SRC;
  if (out) return SRC;
  return into ? DST : NONE;
}
