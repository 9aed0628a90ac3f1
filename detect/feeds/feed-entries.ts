/**
 * The entries of one parsed feed, kept in columns of numbers rather than one object per entry: a
 * feed of a million blocks is a few typed arrays. `at(i)` gives an entry as an object when asked.
 */
import { canonicalIp } from '../../enrich/addresses.js';
import type { FeedEntry } from './feed.js';

/** Where the columns start: grown by doubling, trimmed to size by `finish`. */
const initialCapacity = 64;

export class FeedEntries implements Iterable<FeedEntry> {
  // The columns, one slot per entry: read by the index, written only here.
  /** 4 or 6. */
  family: Uint8Array;
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  prefix: Uint8Array;
  line: Uint32Array;
  /** The IPv4 network as an unsigned number; for IPv6 the slot of the network in `v6`. */
  address: Uint32Array;
  /** IPv6 networks, in the order their entries were added. */
  readonly v6: bigint[] = [];
  /** Per entry, 0 (no note) or 1 + the index of its note in `noteTexts`; made at the first note. */
  private noteIds: Uint32Array | undefined;
  /** Each distinct note once. */
  private readonly noteTexts: string[] = [];
  /** Note → index in `noteTexts`, while entries are added. */
  private noteIndex: Map<string, number> | undefined = new Map();
  private count = 0;

  constructor(capacity = initialCapacity) {
    const size = Math.max(1, capacity);
    this.family = new Uint8Array(size);
    this.prefix = new Uint8Array(size);
    this.line = new Uint32Array(size);
    this.address = new Uint32Array(size);
  }

  get length(): number {
    return this.count;
  }

  addV4(network: number, prefix: number, line: number, note?: string): void {
    const i = this.slot();
    this.family[i] = 4;
    this.prefix[i] = prefix;
    this.line[i] = line;
    this.address[i] = network;
    if (note) this.setNote(i, note);
  }

  addV6(network: bigint, prefix: number, line: number, note?: string): void {
    const i = this.slot();
    this.family[i] = 6;
    this.prefix[i] = prefix;
    this.line[i] = line;
    this.address[i] = this.v6.length;
    this.v6.push(network);
    if (note) this.setNote(i, note);
  }

  noteAt(i: number): string | undefined {
    const id = this.noteIds?.[i] ?? 0;
    return id === 0 ? undefined : this.noteTexts[id - 1];
  }

  /** Drops the spare capacity; call once every entry is in. */
  finish(): this {
    this.noteIndex = undefined;
    if (this.family.length > this.count) {
      this.family = this.family.slice(0, this.count);
      this.prefix = this.prefix.slice(0, this.count);
      this.line = this.line.slice(0, this.count);
      this.address = this.address.slice(0, this.count);
      this.noteIds = this.noteIds?.slice(0, this.count);
    }
    return this;
  }

  /** The block of entry `i` in its one spelling. */
  textAt(i: number): string {
    const prefix = this.prefix[i]!;
    if (this.family[i] === 4) return blockText(ipv4Text(this.address[i]!), prefix, 32);
    return blockText(ipv6Text(this.v6[this.address[i]!]!), prefix, 128);
  }

  at(i: number): FeedEntry {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`no entry ${i} in a feed of ${this.count}`);
    const note = this.noteAt(i);
    return note === undefined ? { text: this.textAt(i), line: this.line[i]! } : { text: this.textAt(i), line: this.line[i]!, note };
  }

  *[Symbol.iterator](): Iterator<FeedEntry> {
    for (let i = 0; i < this.count; i++) yield this.at(i);
  }

  /** Each distinct note is kept once, as a copy: a note sliced from the feed's text would keep the whole text alive. */
  private setNote(i: number, note: string): void {
    if (!this.noteIndex) throw new Error('entries are finished');
    let id = this.noteIndex.get(note);
    if (id === undefined) {
      id = this.noteTexts.push(Buffer.from(note, 'utf8').toString('utf8')) - 1;
      this.noteIndex.set(note, id);
    }
    this.noteIds ??= new Uint32Array(this.family.length);
    this.noteIds[i] = id + 1;
  }

  private slot(): number {
    if (this.count === this.family.length) this.grow();
    return this.count++;
  }

  private grow(): void {
    const size = this.family.length * 2;
    const grown = <T extends Uint8Array | Uint32Array>(column: T, make: (size: number) => T): T => {
      const next = make(size);
      next.set(column);
      return next;
    };
    this.family = grown(this.family, (n) => new Uint8Array(n));
    this.prefix = grown(this.prefix, (n) => new Uint8Array(n));
    this.line = grown(this.line, (n) => new Uint32Array(n));
    this.address = grown(this.address, (n) => new Uint32Array(n));
    if (this.noteIds) this.noteIds = grown(this.noteIds, (n) => new Uint32Array(n));
  }
}

const blockText = (address: string, prefix: number, bits: number) => (prefix === bits ? address : `${address}/${prefix}`);

export function ipv4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** RFC 5952 text of an IPv6 address that is not IPv4-mapped. */
export function ipv6Text(value: bigint): string {
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return canonicalIp(groups.join(':'))!;
}
