/**
 * Address strings of parsed connections: one shared copy per address (bounded), and the short
 * form of IPv6 addresses (/proc/net/nf_conntrack writes them in full).
 */

/**
 * Keeps one copy of each address string, so entries share them and hold no slice of a dump.
 * IPv4 addresses are looked up by their numeric value, without making a string first. Bounded:
 * cleared when full.
 */
export class AddressInterner {
  private readonly v4 = new Map<number, string>();
  private readonly v6 = new Map<string, string>();
  constructor(private readonly max = 131_072) {}

  ipv4(value: number): string {
    const found = this.v4.get(value);
    if (found !== undefined) return found;
    if (this.v4.size >= this.max) this.v4.clear();
    const text = `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
    this.v4.set(value, text);
    return text;
  }

  ipv6(text: string): string {
    const found = this.v6.get(text);
    if (found !== undefined) return found;
    if (this.v6.size >= this.max) this.v6.clear();
    this.v6.set(text, text);
    return text;
  }
}

/** Compresses a full-form IPv6 address (as /proc writes it) to its RFC 5952 form; returns null if it is not IPv6. */
export function normalizeIpv6(text: string): string | null {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.length < 2) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  const numbers: number[] = [];
  for (const group of groups) {
    if (group.length === 0 || group.length > 4) return null;
    numbers.push(parseInt(group, 16));
  }
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (numbers[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && numbers[j] === 0) j++;
    if (j - i > bestLength) [bestAt, bestLength] = [i, j - i];
    i = j;
  }
  const hex = numbers.map((n) => n.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLength).join(':')}`;
}
