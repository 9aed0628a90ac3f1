/**
 * One line of the kernel's connection table, as `conntrack -L -o extended,id` prints it, as
 * `/proc/net/nf_conntrack` holds it, or as `conntrack -E -o extended,id,timestamp` reports an
 * event (`[NEW]`, `[UPDATE]`, `[DESTROY]`):
 *
 *   ipv4     2 tcp      6 118 TIME_WAIT src=10.0.0.1 dst=10.0.0.2 sport=52444 dport=80 packets=6 bytes=1320
 *     src=10.0.0.2 dst=10.0.0.1 sport=80 dport=52444 packets=4 bytes=219 [ASSURED] mark=0 use=1 id=1289613483
 *
 * Pure: no I/O. A line that is not a connection throws an IngestError (INGEST_BAD_LINE for its
 * shape, INGEST_BAD_FIELD for a value).
 *
 * The parser reads bytes: a dump is split into line ranges of one Buffer and parsed in place,
 * so no string is made per line or per token, and an entry keeps nothing of the dump alive;
 * addresses come from a bounded interner keyed by their numeric value, shared by all entries.
 */
import { AddressInterner, normalizeIpv6 } from './conntrack-address.js';
import { IngestError } from './problems.js';

export type ConntrackEvent = 'NEW' | 'UPDATE' | 'DESTROY';

/** One connection. Addresses are in their short form (IPv6 compressed), ports null when the protocol has none. */
export interface ConntrackEntry {
  /** Set for `conntrack -E` lines. */
  readonly event: ConntrackEvent | null;
  /** Event time (`-o timestamp`), epoch milliseconds. */
  readonly time: number | null;
  readonly family: 4 | 6;
  /** IANA protocol number. */
  readonly proto: number;
  /** Seconds left before the kernel expires the entry (absent in DESTROY events). */
  readonly timeout: number | null;
  /** Protocol state for TCP, SCTP, DCCP (`ESTABLISHED`, `TIME_WAIT`, ...). */
  readonly state: string | null;
  /** Original direction: the originator's view. */
  readonly src: string;
  readonly dst: string;
  readonly sport: number | null;
  readonly dport: number | null;
  /** Reply direction: the responder's address and port (differ from dst/dport after DNAT). */
  readonly replySrc: string;
  readonly replyDst: string;
  readonly replySport: number | null;
  readonly replyDport: number | null;
  /** Other fields of the original tuple (ICMP type/code/id, GRE keys), '' when none: part of the identity. */
  readonly tupleExtra: string;
  readonly origPackets: number;
  readonly origBytes: number;
  readonly replyPackets: number;
  readonly replyBytes: number;
  /** Whether the line carried counters (accounting on when the connection was created). */
  readonly accounted: boolean;
  readonly assured: boolean;
  readonly unreplied: boolean;
  readonly mark: number;
  readonly zone: number;
  /** The kernel's connection id (`-o id`); /proc has none. */
  readonly id: number | null;
}

const PROTOCOLS = new Map<string, number>([
  ['tcp', 6],
  ['udp', 17],
  ['icmp', 1],
  ['icmpv6', 58],
  ['sctp', 132],
  ['dccp', 33],
  ['gre', 47],
  ['udplite', 136],
]);
const STATES = new Set(
  ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID'],
);
const EVENTS = new Map<string, ConntrackEvent>([
  ['[NEW]', 'NEW'],
  ['[UPDATE]', 'UPDATE'],
  ['[DESTROY]', 'DESTROY'],
]);

const defaultInterner = new AddressInterner();

function bad(code: 'INGEST_BAD_LINE' | 'INGEST_BAD_FIELD', message: string): never {
  throw new IngestError(code, message);
}

const text = (b: Buffer, from: number, to: number) => b.toString('latin1', from, Math.min(to, from + 64));

/** A non-negative decimal integer in b[from, to), or -1. */
function integer(b: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > 16) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = b[i]! - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= Number.MAX_SAFE_INTEGER ? value : -1;
}

/** The IPv4 address in b[from, to) as an unsigned 32-bit number, or -1. */
function ipv4Value(b: Uint8Array, from: number, to: number): number {
  let value = 0;
  let parts = 0;
  let start = from;
  for (let i = from; i <= to; i++) {
    if (i === to || b[i] === 46) {
      if (i - start > 3) return -1;
      const octet = integer(b, start, i);
      if (octet < 0 || octet > 255) return -1;
      value = value * 256 + octet;
      parts++;
      start = i + 1;
    }
  }
  return parts === 4 ? value : -1;
}

/** Whether b[from, from + length) is the ASCII text `name`. */
function is(b: Uint8Array, from: number, length: number, name: string): boolean {
  if (length !== name.length) return false;
  for (let i = 0; i < length; i++) if (b[from + i] !== name.charCodeAt(i)) return false;
  return true;
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/** Known words by length, so a header token is found without making a string. */
function wordsByLength(words: Iterable<string>): string[][] {
  const table: string[][] = [];
  for (const word of words) (table[word.length] ??= []).push(word);
  return table;
}
const PROTOCOL_WORDS = wordsByLength([...PROTOCOLS.keys(), 'unknown']);
const STATE_WORDS = wordsByLength(STATES.keys());

function known(b: Uint8Array, from: number, to: number, table: readonly (readonly string[] | undefined)[]): string | null {
  for (const word of table[to - from] ?? []) if (is(b, from, to - from, word)) return word;
  return null;
}

function address(b: Buffer, from: number, to: number, family: 4 | 6, interner: AddressInterner): string {
  const v4 = ipv4Value(b, from, to);
  if (v4 >= 0) return interner.ipv4(v4);
  const raw = b.toString('latin1', from, to);
  if (family === 4 || raw.indexOf(':') < 0) bad('INGEST_BAD_FIELD', `not an IPv4 address: ${JSON.stringify(raw.slice(0, 64))}`);
  const colon = raw.lastIndexOf(':');
  const tail = Buffer.from(raw.slice(colon + 1), 'latin1');
  const mapped = raw.indexOf('.') > 0 && ipv4Value(tail, 0, tail.length) >= 0 && normalizeIpv6(`${raw.slice(0, colon + 1)}0:0`) !== null;
  const short = mapped ? raw.toLowerCase() : normalizeIpv6(raw);
  if (short === null) bad('INGEST_BAD_FIELD', `not an IPv6 address: ${JSON.stringify(raw.slice(0, 64))}`);
  return interner.ipv6(short);
}

function numberAt(b: Buffer, key: string, from: number, to: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = integer(b, from, to);
  if (n < 0 || n > max) bad('INGEST_BAD_FIELD', `${key}=${text(b, from, to)} is not a number in 0..${max}`);
  return n;
}

const K_OTHER = 0;
const K_SRC = 1;
const K_DST = 2;
const K_SPORT = 3;
const K_DPORT = 4;
const K_PACKETS = 5;
const K_BYTES = 6;
const K_MARK = 7;
const K_ZONE = 8;
const K_ID = 9;
/** ICMP type/code, GRE keys: part of the tuple's identity, not a port. */
const K_TUPLE_EXTRA = 10;

/** Which key b[from, from + length) is, without making a string. */
function keyOf(b: Uint8Array, from: number, length: number): number {
  switch (length) {
    case 2:
      return is(b, from, 2, 'id') ? K_ID : K_OTHER;
    case 3:
      return is(b, from, 3, 'src') ? K_SRC : is(b, from, 3, 'dst') ? K_DST : K_OTHER;
    case 4:
      if (is(b, from, 4, 'mark')) return K_MARK;
      if (is(b, from, 4, 'zone')) return K_ZONE;
      return is(b, from, 4, 'type') || is(b, from, 4, 'code') ? K_TUPLE_EXTRA : K_OTHER;
    case 5:
      if (is(b, from, 5, 'sport')) return K_SPORT;
      if (is(b, from, 5, 'dport')) return K_DPORT;
      return is(b, from, 5, 'bytes') ? K_BYTES : K_OTHER;
    case 6:
      return is(b, from, 6, 'srckey') || is(b, from, 6, 'dstkey') ? K_TUPLE_EXTRA : K_OTHER;
    case 7:
      return is(b, from, 7, 'packets') ? K_PACKETS : K_OTHER;
    default:
      return K_OTHER;
  }
}

/** One tuple of a line: positions of its addresses, its ports and counters. */
interface Tuple {
  srcFrom: number;
  srcTo: number;
  dstFrom: number;
  dstTo: number;
  sport: number | null;
  dport: number | null;
  packets: number;
  bytes: number;
  counted: boolean;
  extra: string;
  icmpId: boolean;
}

const newTuple = (): Tuple => ({ srcFrom: -1, srcTo: -1, dstFrom: -1, dstTo: -1, sport: null, dport: null, packets: 0, bytes: 0, counted: false, extra: '', icmpId: false });

/** Parses one line given as text; throws IngestError when it is not a connection. */
export function parseConntrackLine(line: string, interner: AddressInterner = defaultInterner): ConntrackEntry {
  const bytes = Buffer.from(line, 'utf8');
  return parseConntrackBytes(bytes, 0, bytes.length, interner);
}

/** Parses the line in b[from, to) (no newline); throws IngestError when it is not a connection. */
export function parseConntrackBytes(b: Buffer, from: number, to: number, interner: AddressInterner = defaultInterner): ConntrackEntry {
  let event: ConntrackEvent | null = null;
  let time: number | null = null;
  let family: 4 | 6 | null = null;
  let protoName: string | null = null;
  let proto = -1;
  let timeout: number | null = null;
  let state: string | null = null;
  let mark = 0;
  let zone = 0;
  let id: number | null = null;
  let assured = false;
  let unreplied = false;
  // 0 header, 1 original tuple, 2 between tuples, 3 reply tuple, 4 trailer
  let phase = 0;
  const orig = newTuple();
  const reply = newTuple();
  let i = from;
  while (i < to) {
    if (isSpace(b[i]!)) {
      i++;
      continue;
    }
    const start = i;
    let eq = -1;
    while (i < to && !isSpace(b[i]!)) {
      if (eq < 0 && b[i] === 61) eq = i;
      i++;
    }
    const end = i;
    if (eq < 0) {
      if (b[start] === 91) {
        // [FLAG], [EVENT] or [timestamp]
        const size = end - start;
        if (is(b, start, size, '[UNREPLIED]')) unreplied = true;
        else if (is(b, start, size, '[ASSURED]')) assured = true;
        else if (phase === 0) {
          const token = b.toString('latin1', start, end);
          if (EVENTS.has(token)) event = EVENTS.get(token) ?? null;
          else if (/^\[\d+\.\d+\]$/.test(token)) time = Math.round(Number(token.slice(1, -1)) * 1000);
        }
        if (phase === 1) phase = 2;
        else if (phase === 3) phase = 4;
        continue;
      }
      if (phase !== 0) continue;
      const number = integer(b, start, end);
      if (protoName === null) {
        const size = end - start;
        if (family === null && (is(b, start, size, 'ipv4') || is(b, start, size, 'ipv6'))) family = b[start + 3] === 52 ? 4 : 6;
        else if (family !== null && (number === 2 || number === 10)) continue;
        else {
          protoName = known(b, start, end, PROTOCOL_WORDS);
          if (protoName === null) bad('INGEST_BAD_LINE', `unexpected ${JSON.stringify(text(b, start, end))} before the tuple`);
        }
      } else if (proto < 0) proto = numberAt(b, 'protocol', start, end, 255);
      else if (timeout === null && state === null && number >= 0) timeout = number;
      else if (state === null) state = known(b, start, end, STATE_WORDS) ?? b.toString('latin1', start, end); else bad('INGEST_BAD_LINE', `unexpected ${JSON.stringify(text(b, start, end))} before the tuple`);
      continue;
    }
    const key = keyOf(b, start, eq - start);
    const value = eq + 1;
    if (key === K_SRC) {
      if (phase <= 1 && orig.srcFrom < 0) phase = 1;
      else if (phase <= 3 && reply.srcFrom < 0) phase = 3;
      else bad('INGEST_BAD_LINE', 'more than two tuples');
      if (proto < 0) bad('INGEST_BAD_LINE', 'no protocol before the tuple');
      const tuple = phase === 1 ? orig : reply;
      tuple.srcFrom = value;
      tuple.srcTo = end;
      continue;
    }
    if (phase === 1 || phase === 3) {
      const tuple = phase === 1 ? orig : reply;
      switch (key) {
        case K_DST:
          tuple.dstFrom = value;
          tuple.dstTo = end;
          continue;
        case K_SPORT:
          tuple.sport = numberAt(b, 'sport', value, end, 65_535);
          continue;
        case K_DPORT:
          tuple.dport = numberAt(b, 'dport', value, end, 65_535);
          continue;
        case K_PACKETS:
          tuple.packets = numberAt(b, 'packets', value, end);
          tuple.counted = true;
          continue;
        case K_BYTES:
          tuple.bytes = numberAt(b, 'bytes', value, end);
          tuple.counted = true;
          continue;
      }
      const icmpId = key === K_ID && (proto === 1 || proto === 58) && !tuple.icmpId && !tuple.counted;
      if (key === K_TUPLE_EXTRA || icmpId) {
        if (icmpId) tuple.icmpId = true;
        const token = b.toString('latin1', start, end);
        if (phase === 1) orig.extra = orig.extra === '' ? token : `${orig.extra} ${token}`;
        continue;
      }
      phase = phase === 1 ? 2 : 4;
    }
    if (key === K_MARK) mark = numberAt(b, 'mark', value, end, 0xffff_ffff);
    else if (key === K_ZONE) zone = numberAt(b, 'zone', value, end, 0xffff);
    else if (key === K_ID && phase >= 3) id = numberAt(b, 'id', value, end, 0xffff_ffff);
  }
  if (proto < 0 || protoName === null) bad('INGEST_BAD_LINE', 'no protocol');
  if (PROTOCOLS.has(protoName) && PROTOCOLS.get(protoName) !== proto) bad('INGEST_BAD_FIELD', `protocol ${protoName} is not number ${proto}`);
  if (orig.srcFrom < 0 || orig.dstFrom < 0) bad('INGEST_BAD_LINE', 'no original tuple (src=, dst=)');
  if (reply.srcFrom < 0 || reply.dstFrom < 0) bad('INGEST_BAD_LINE', 'no reply tuple (src=, dst=)');
  const fam: 4 | 6 = family ?? (b.subarray(orig.srcFrom, orig.srcTo).includes(58) ? 6 : 4);
  const hasPorts = proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 136;
  if (hasPorts && (orig.sport === null || orig.dport === null || reply.sport === null || reply.dport === null)) {
    bad('INGEST_BAD_LINE', `${protoName} tuple without sport= and dport=`);
  }
  return {
    event,
    time,
    family: fam,
    proto,
    timeout,
    state,
    src: address(b, orig.srcFrom, orig.srcTo, fam, interner),
    dst: address(b, orig.dstFrom, orig.dstTo, fam, interner),
    sport: orig.sport,
    dport: orig.dport,
    replySrc: address(b, reply.srcFrom, reply.srcTo, fam, interner),
    replyDst: address(b, reply.dstFrom, reply.dstTo, fam, interner),
    replySport: reply.sport,
    replyDport: reply.dport,
    tupleExtra: orig.extra,
    origPackets: orig.packets,
    origBytes: orig.bytes,
    replyPackets: reply.packets,
    replyBytes: reply.bytes,
    accounted: orig.counted || reply.counted,
    assured,
    unreplied,
    mark,
    zone,
    id,
  };
}
