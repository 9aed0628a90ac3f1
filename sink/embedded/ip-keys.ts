/**
 * Addresses as index keys: 32 hex digits of the 128-bit value, IPv4 as IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`), the order and containment of OpenSearch's `ip` type and of `ipInBlock`.
 * Text of one length compares as the numbers do, so a CIDR block is a key range. Pure.
 */
import { ipv4Number, parseCidr } from '../../enrich/addresses.js';

const mappedPrefix = '00000000000000000000ffff';
const all128 = (1n << 128n) - 1n;

const hex = (value: bigint) => value.toString(16).padStart(32, '0');

/** The key of an address (of the network, for a text with a prefix), or null for no address or not one. */
export function ipKeyOf(ip: string | null | undefined): string | null {
  if (!ip) return null;
  const v4 = ipv4Number(ip);
  if (v4 >= 0) return mappedPrefix + v4.toString(16).padStart(8, '0');
  try {
    const parsed = parseCidr(ip);
    return hex(parsed.bits === 32 ? (0xffffn << 32n) | parsed.network : parsed.network);
  } catch {
    return null;
  }
}

/** The first and last key of a block (an address is a block of one), or undefined when it is neither. */
export function ipKeyRange(block: string): { readonly low: string; readonly high: string } | undefined {
  let parsed;
  try {
    parsed = parseCidr(block);
  } catch {
    return undefined;
  }
  const [network, prefix] = parsed.bits === 32 ? [(0xffffn << 32n) | parsed.network, parsed.prefix + 96] : [parsed.network, parsed.prefix];
  const hostMask = all128 >> BigInt(prefix);
  return { low: hex(network & ~hostMask & all128), high: hex(network | hostMask) };
}
