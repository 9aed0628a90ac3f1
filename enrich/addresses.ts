/**
 * IP addresses and CIDR blocks: parsing, one canonical spelling, and longest-prefix matching of
 * named networks. Pure; IPv4 and IPv6.
 */

/** An address as a number (IPv4: below 2^32) and its family's bit width. */
interface ParsedAddress {
  readonly bits: 32 | 128;
  readonly value: bigint;
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** An IPv6 address (also `::ffff:10.1.0.5` forms) as a 128-bit number, or undefined. */
export function parseIpv6(text: string): bigint | undefined {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

function parseAddress(text: string): ParsedAddress | undefined {
  if (text.includes(':')) {
    const value = parseIpv6(text);
    return value === undefined ? undefined : { bits: 128, value };
  }
  const value = parseIpv4(text);
  return value === undefined ? undefined : { bits: 32, value };
}

/**
 * The one spelling of an address that the identity table keys on: IPv4 as written, IPv6 in the
 * RFC 5952 form (lower case, longest zero run as `::`), an IPv4-mapped IPv6 address as its IPv4
 * address. Returns undefined for a non-address.
 */
export function canonicalIp(text: string): string | undefined {
  if (!text.includes(':')) return parseIpv4(text) === undefined ? undefined : text;
  const value = parseIpv6(text);
  if (value === undefined) return undefined;
  if (value >> 32n === 0xffffn) {
    // An IPv4-mapped address (::ffff:10.1.0.5) is that IPv4 address.
    return [24n, 16n, 8n, 0n].map((shift) => Number((value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** A CIDR block; a bare address is a block of one. */
export interface Cidr {
  readonly bits: 32 | 128;
  readonly prefix: number;
  readonly network: bigint;
}

export class CidrError extends Error {
  readonly code = 'ENRICH_BAD_CIDR';
  constructor(readonly text: string) {
    super(`'${text}' is not an IPv4 or IPv6 address or CIDR block`);
    this.name = 'CidrError';
  }
}

function maskOf(bits: 32 | 128, prefix: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return (all >> BigInt(bits - prefix)) << BigInt(bits - prefix);
}

export function parseCidr(text: string): Cidr {
  const [addressText, prefixText, extra] = text.trim().split('/');
  const address = parseAddress(addressText ?? '');
  if (!address || extra !== undefined) throw new CidrError(text);
  const prefix = prefixText === undefined ? address.bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= address.bits)) throw new CidrError(text);
  return { bits: address.bits, prefix, network: address.value & maskOf(address.bits, prefix) };
}

/** An IPv4 address as an unsigned 32-bit number, or -1: the hot path of matching, without BigInt. */
export function ipv4Number(text: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57 && digits < 3) {
      octet = octet * 10 + (code - 48);
      digits++;
      if (octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

interface PrefixLength<Key, Name> {
  readonly prefix: number;
  readonly mask: Key;
  readonly blocks: Map<Key, Name>;
}

/**
 * Longest-prefix match of addresses against named CIDR blocks: one map per prefix length in use,
 * so a lookup costs one probe per distinct length (at most 33 for IPv4), whatever the number of
 * blocks. IPv4 is matched on plain numbers, IPv6 on BigInt.
 */
export class CidrMatcher<Name = string> {
  private readonly v4: PrefixLength<number, Name>[] = [];
  private readonly v6: PrefixLength<bigint, Name>[] = [];

  add(cidr: Cidr | string, name: Name): this {
    const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    if (block.bits === 32) {
      const mask = block.prefix === 0 ? 0 : (0xffffffff << (32 - block.prefix)) >>> 0;
      this.insert(this.v4, block.prefix, mask, Number(block.network), name);
    } else {
      this.insert(this.v6, block.prefix, maskOf(128, block.prefix), block.network, name);
    }
    return this;
  }

  /** The name of the most specific block holding `ip`, or undefined. */
  match(ip: string): Name | undefined {
    const v4 = ipv4Number(ip);
    if (v4 >= 0) {
      for (const length of this.v4) {
        const name = length.blocks.get((v4 & length.mask) >>> 0);
        if (name !== undefined) return name;
      }
      return undefined;
    }
    if (this.v6.length === 0 || !ip.includes(':')) return undefined;
    const v6 = parseIpv6(ip);
    if (v6 === undefined) return undefined;
    for (const length of this.v6) {
      const name = length.blocks.get(v6 & length.mask);
      if (name !== undefined) return name;
    }
    return undefined;
  }

  private insert<Key>(lengths: PrefixLength<Key, Name>[], prefix: number, mask: Key, network: Key, name: Name): void {
    let length = lengths.find((candidate) => candidate.prefix === prefix);
    if (!length) {
      lengths.push((length = { prefix, mask, blocks: new Map() }));
      lengths.sort((a, b) => b.prefix - a.prefix);
    }
    if (!length.blocks.has(network)) length.blocks.set(network, name);
  }
}

/** Private, shared, loopback and link-local ranges: Calico's `pvt`. Everything else is `pub`. */
export const privateRanges: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
];
