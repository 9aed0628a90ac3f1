/**
 * Every entry of a set of parsed feeds, for matching flow addresses: the most specific block
 * holding an address wins; between equal blocks of several feeds, the feed whose name sorts
 * first; within a feed, the earlier line. Immutable once built: a refresh builds a new one.
 *
 * IPv4: one hash table (uint32 network → entry) per prefix length, plus two arrays over the 65 536
 * /16s of the address space: which lengths above 16 have a block inside each /16 (so a lookup
 * probes only those, longest first), and the best block of length 16 or less covering each /16 (so
 * short blocks cost no probe at all); and a bitmap of the /24s that a block longer than /16 touches,
 * so that most misses end after three array reads, without a probe.
 * IPv6: one Map (BigInt network → entry) per length in use, longest first. An IPv4-mapped IPv6
 * address is matched as its IPv4 address, and an IPv4 address as its IPv4-mapped form too: an
 * IPv6 block shorter than /96 that holds them all (`::/0`) ranks below every IPv4 block.
 */
import { ipv4Number, parseIpv6 } from '../../enrich/addresses.js';
import type { FeedEntries } from './feed-entries.js';
import type { ParsedFeed } from './feed-collector.js';
import type { FeedMatch } from './feed.js';
import { v4Mask, v6Mask } from './feed-block.js';
import { runToEnd, type Steps } from './slices.js';
import { Uint32Table } from './uint32-table.js';

const SLASH16S = 65_536;
const SLASH24S = 16_777_216;
const NO_ENTRY = -1;
/** Entries (or table slots) visited between two slices: a few ms of work. */
const sliceEntries = 32_768;
const mappedNetwork = 0xffffn << 32n;
const low32 = 0xffffffffn;
const low64 = 0xffffffffffffffffn;

/**
 * The Map key of an IPv6 network: its upper half, then both halves XORed in the lower. V8 hashes a
 * BigInt by its lowest 64 bits only, and those are zero for every block of /64 or shorter; this
 * key (one-to-one with the network) spreads them.
 */
const v6Key = (network: bigint) => {
  const high = network >> 64n;
  return (high << 64n) | (high ^ (network & low64));
};

interface V6Length {
  readonly prefix: number;
  readonly mask: bigint;
  readonly blocks: Map<bigint, number>;
}

/** An IPv6 block within the IPv4-mapped addresses (`::ffff:0:0/96` and longer), as the IPv4 block it is; else undefined. */
function mappedPart(network: bigint, prefix: number): { prefix: number; network: number } | undefined {
  return prefix >= 96 && network >> 32n === 0xffffn ? { prefix: prefix - 96, network: Number(network & low32) } : undefined;
}

/** An IPv6 block shorter than /96 that holds every IPv4-mapped address (`::/0`, `::/64`). */
const coversMapped = (network: bigint, prefix: number) => prefix < 96 && (mappedNetwork & v6Mask(prefix)) === network;

interface Built {
  readonly names: readonly string[];
  readonly feeds: readonly FeedEntries[];
  readonly firstIds: Int32Array;
  readonly size: number;
  /** Tables of lengths 17–32, at length - 17. */
  readonly long: readonly (Uint32Table | undefined)[];
  readonly directory: Uint16Array;
  readonly short: Int32Array;
  readonly slash24s: Uint32Array;
  readonly mappedFallback: number;
  readonly v6: readonly V6Length[];
}

export class FeedIndex {
  /** Distinct blocks indexed (a block listed by several feeds counts once). */
  readonly size: number;
  /** Feed names, sorted: the order ties are broken in. */
  readonly feeds: readonly string[];
  private readonly entries: readonly FeedEntries[];
  /** The id of each feed's first entry; ids of feed f are firstIds[f] + entry number. */
  private readonly firstIds: Int32Array;
  private readonly long: readonly (Uint32Table | undefined)[];
  private readonly longMasks: Uint32Array;
  private readonly directory: Uint16Array;
  private readonly short: Int32Array;
  /** One bit per /24: whether a block of length 17–32 lies inside or holds it (empty when there is none at all). */
  private readonly slash24s: Uint32Array;
  /** The longest IPv6 block shorter than /96 holding every IPv4 address (as IPv4-mapped), for IPv4 addresses no IPv4 block holds. */
  private readonly mappedFallback: number;
  private readonly v6: readonly V6Length[];

  private constructor(built: Built) {
    this.size = built.size;
    this.feeds = built.names;
    this.entries = built.feeds;
    this.firstIds = built.firstIds;
    this.long = built.long;
    this.longMasks = Uint32Array.from({ length: 16 }, (_, bit) => v4Mask(17 + bit));
    this.directory = built.directory;
    this.short = built.short;
    this.slash24s = built.slash24s;
    this.mappedFallback = built.mappedFallback;
    this.v6 = built.v6;
  }

  static readonly empty: FeedIndex = FeedIndex.build([]);

  static build(feeds: readonly ParsedFeed[]): FeedIndex {
    return runToEnd(FeedIndex.buildSteps(feeds));
  }

  /** `build` in slices, for `runInSlices`. Throws if two feeds have the same name. */
  static *buildSteps(feeds: readonly ParsedFeed[]): Steps<FeedIndex> {
    const sorted = [...feeds].sort((a, b) => (a.feed < b.feed ? -1 : a.feed > b.feed ? 1 : 0));
    sorted.forEach((feed, i) => {
      if (i > 0 && sorted[i - 1]!.feed === feed.feed) throw new Error(`feed '${feed.feed}' is given twice`);
    });
    const firstIds = new Int32Array(sorted.length);
    const v4Counts = new Uint32Array(33);
    let total = 0;
    sorted.forEach((feed, f) => {
      firstIds[f] = total;
      total += feed.entries.length;
      const { family, prefix, address, v6 } = feed.entries;
      for (let i = 0; i < feed.entries.length; i++) {
        if (family[i] === 4) v4Counts[prefix[i]!]!++;
        else {
          const mapped = mappedPart(v6[address[i]!]!, prefix[i]!);
          if (mapped) v4Counts[mapped.prefix]!++;
        }
      }
    });
    yield;
    if (total > 0x7fffffff) throw new RangeError(`${total} entries: more than one index holds`);
    const v4 = Array.from(v4Counts, (count) => (count > 0 ? new Uint32Table(count) : undefined));
    yield;
    const v6 = new Map<number, V6Length>();
    let mappedFallback = NO_ENTRY;
    let fallbackPrefix = -1;
    let size = 0;
    for (let f = 0; f < sorted.length; f++) {
      const { family, prefix, address, v6: networks, length } = sorted[f]!.entries;
      for (let i = 0; i < length; i++) {
        const id = firstIds[f]! + i;
        if (family[i] === 4) {
          if (v4[prefix[i]!]!.setIfAbsent(address[i]!, id)) size++;
        } else {
          const network = networks[address[i]!]!;
          if (addV6(v6, network, prefix[i]!, id)) size++;
          const mapped = mappedPart(network, prefix[i]!);
          if (mapped) v4[mapped.prefix]!.setIfAbsent(mapped.network, id);
          else if (prefix[i]! > fallbackPrefix && coversMapped(network, prefix[i]!)) [mappedFallback, fallbackPrefix] = [id, prefix[i]!];
        }
        if (i % sliceEntries === sliceEntries - 1) yield;
      }
    }
    const { directory, short, slash24s } = yield* addressSpaceMaps(v4);
    return new FeedIndex({
      names: sorted.map((feed) => feed.feed),
      feeds: sorted.map((feed) => feed.entries),
      firstIds,
      size,
      long: v4.slice(17),
      directory,
      short,
      slash24s,
      mappedFallback,
      v6: [...v6.values()].sort((a, b) => b.prefix - a.prefix),
    });
  }

  /** Entries read from `feed` (0 for a feed not in the index), blocks shadowed by another feed included. */
  countOf(feed: string): number {
    const f = this.feeds.indexOf(feed);
    return f < 0 ? 0 : this.entries[f]!.length;
  }

  /** Entries read per feed, in feed name order. */
  get counts(): ReadonlyMap<string, number> {
    return new Map(this.feeds.map((name, f) => [name, this.entries[f]!.length]));
  }

  /** The entry of the most specific block holding `ip` (IPv4 or IPv6 text), or undefined (also for text that is not an address). */
  match(ip: string): FeedMatch | undefined {
    const id = this.find(ip);
    return id === NO_ENTRY ? undefined : this.matchOf(id);
  }

  private find(ip: string): number {
    const v4 = ipv4Number(ip);
    if (v4 >= 0) return this.findV4(v4);
    if (!ip.includes(':')) return NO_ENTRY;
    const value = parseIpv6(ip);
    if (value === undefined) return NO_ENTRY;
    if (value >> 32n === 0xffffn) return this.findV4(Number(value & low32));
    for (const length of this.v6) {
      const id = length.blocks.get(v6Key(value & length.mask));
      if (id !== undefined) return id;
    }
    return NO_ENTRY;
  }

  private findV4(address: number): number {
    const slash16 = address >>> 16;
    let lengths = this.directory[slash16]!;
    // No probe at all where no block longer than /16 touches the /24: most misses end here.
    if (lengths !== 0 && (this.slash24s[address >>> 13]! & (1 << ((address >>> 8) & 31))) === 0) lengths = 0;
    while (lengths !== 0) {
      const bit = 31 - Math.clz32(lengths);
      const id = this.long[bit]!.get((address & this.longMasks[bit]!) >>> 0);
      if (id !== NO_ENTRY) return id;
      lengths ^= 1 << bit;
    }
    const id = this.short[slash16]!;
    return id === NO_ENTRY ? this.mappedFallback : id;
  }

  private matchOf(id: number): FeedMatch {
    let f = this.firstIds.length - 1;
    while (this.firstIds[f]! > id) f--;
    const entries = this.entries[f]!;
    const i = id - this.firstIds[f]!;
    const note = entries.noteAt(i);
    const entry = entries.textAt(i);
    return note === undefined ? { feed: this.feeds[f]!, entry } : { feed: this.feeds[f]!, entry, note };
  }
}

function addV6(lengths: Map<number, V6Length>, network: bigint, prefix: number, id: number): boolean {
  let length = lengths.get(prefix);
  if (!length) lengths.set(prefix, (length = { prefix, mask: v6Mask(prefix), blocks: new Map() }));
  const key = v6Key(network);
  if (length.blocks.has(key)) return false;
  length.blocks.set(key, id);
  return true;
}

/**
 * Per /16: the lengths above 16 that have a block inside it (bit length - 17), and the best block
 * of length ≤ 16 covering it. Per /24 (only if there are blocks longer than /16): a bit set when
 * such a block lies inside it or holds it.
 */
function* addressSpaceMaps(v4: readonly (Uint32Table | undefined)[]): Steps<{ directory: Uint16Array; short: Int32Array; slash24s: Uint32Array }> {
  const directory = new Uint16Array(SLASH16S);
  const short = new Int32Array(SLASH16S).fill(NO_ENTRY);
  const slash24s = new Uint32Array(v4.slice(17).some(Boolean) ? SLASH24S / 32 : 0);
  // Shorter lengths first: a longer block covering the same /16 overwrites them.
  for (let prefix = 0; prefix <= 16; prefix++) {
    const span = 1 << (16 - prefix);
    yield* inSlices(v4[prefix], (network, id) => short.fill(id, network >>> 16, (network >>> 16) + span));
  }
  for (let prefix = 17; prefix <= 32; prefix++) {
    const bit = 1 << (prefix - 17);
    const span = prefix >= 24 ? 1 : 1 << (24 - prefix);
    yield* inSlices(v4[prefix], (network) => {
      directory[network >>> 16] |= bit;
      for (let slash24 = network >>> 8, end = slash24 + span; slash24 < end; slash24++) slash24s[slash24 >>> 5] |= 1 << (slash24 & 31);
    });
  }
  return { directory, short, slash24s };
}

/** Every key of `table`, a slice of slots at a time. */
function* inSlices(table: Uint32Table | undefined, visit: (key: number, value: number) => void): Steps<void> {
  if (!table) return;
  for (let from = 0; from < table.capacity; from += 4 * sliceEntries) {
    table.forEach(visit, from, Math.min(table.capacity, from + 4 * sliceEntries));
    yield;
  }
}
