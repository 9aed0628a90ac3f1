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

function parseIpv6(text: string): bigint | undefined {
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

/** True when `text` is an IPv4 or IPv6 address. */
export function isIpAddress(text: string): boolean {
  return parseAddress(text) !== undefined;
}

/**
 * The one spelling of an address that the identity table keys on: IPv4 as written, IPv6 in the
 * RFC 5952 form (lower case, longest zero run as `::`). Returns undefined for a non-address.
 */
export function canonicalIp(text: string): string | undefined {
  if (!text.includes(':')) return parseIpv4(text) === undefined ? undefined : text;
  const value = parseIpv6(text);
  if (value === undefined) return undefined;
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

/**
 * Longest-prefix match of addresses against named CIDR blocks: one map per prefix length in use,
 * so a lookup costs one probe per distinct length (at most 33 for IPv4), whatever the number of blocks.
 */
export class CidrMatcher<Name = string> {
  private readonly byLength = new Map<string, Map<bigint, Name>>();
  private lengths: { bits: 32 | 128; prefix: number; mask: bigint }[] = [];

  add(cidr: Cidr | string, name: Name): this {
    const block = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    const key = `${block.bits}/${block.prefix}`;
    let map = this.byLength.get(key);
    if (!map) {
      this.byLength.set(key, (map = new Map()));
      this.lengths.push({ bits: block.bits, prefix: block.prefix, mask: maskOf(block.bits, block.prefix) });
      this.lengths.sort((a, b) => b.prefix - a.prefix);
    }
    if (!map.has(block.network)) map.set(block.network, name);
    return this;
  }

  get size(): number {
    let total = 0;
    for (const map of this.byLength.values()) total += map.size;
    return total;
  }

  /** The name of the most specific block holding `ip`, or undefined. */
  match(ip: string): Name | undefined {
    const address = parseAddress(ip);
    if (!address) return undefined;
    for (const { bits, prefix, mask } of this.lengths) {
      if (bits !== address.bits) continue;
      const name = this.byLength.get(`${bits}/${prefix}`)!.get(address.value & mask);
      if (name !== undefined) return name;
    }
    return undefined;
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
