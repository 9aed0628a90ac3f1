/**
 * `npx tsx bench/feeds.ts [entries]` (or `npm run bench -- feeds [entries]`; default 1 000 000
 * entries, about 40 s on 2 cores): threat feed loading and matching.
 *
 * - Load: a generated feed of 1M blocks read from text (`parseFeed`) and indexed
 *   (`FeedIndex.build`), as plain text and as CSV. One warm-up, then the median of 3.
 * - Memory: heap and ArrayBuffer memory used after GC by the index of the text feed (its entries
 *   and notes included: what a FeedSet keeps per feed), in MiB and bytes per entry.
 * - Refresh pause: how long a FeedSet holds the event loop at a time while it parses and indexes
 *   the feed (the slices of `parseFeedSteps` and `FeedIndex.buildSteps`): the median slice, and
 *   the longest, in which a full garbage collection of the process may fall.
 * - Match throughput of `FeedIndex.match` over flow addresses: 70% cluster addresses (pods in
 *   10.64.0.0/12, nodes in 10.0.0.0/16), 25% public addresses, 3% listed single addresses, 2%
 *   addresses inside listed /24s. Beside it, in the same run, the baseline: `Map.get` of the same
 *   strings in a Map of the feed's single addresses (an exact-address lookup that cannot see
 *   CIDR blocks), and the floor of one string lookup: `Map.get` in a Map of 1 000 addresses (in
 *   cache). The cases take turns, one warm-up round, then the median of 7.
 *
 * Feed: after a 20-line comment header, 85% single public IPv4 addresses, 10% /24s, 3% /16–/23,
 * 1% /25–/31, 1% IPv6 (/48 and single); 2% of the lines carry a trailing comment (50 distinct
 * notes). CSV: a header naming `ip` and `malware` (the note, 10 distinct), every field quoted.
 * Flow addresses are flat strings, as decoded from Avro. Deterministic (LCG). Heap figures need
 * GC: `--expose-gc` is set at run time.
 */
import { FeedIndex } from '../detect/feeds/feed-index.js';
import { parseFeed, parseFeedSteps } from '../detect/feeds/feed-parse.js';
import type { Steps } from '../detect/feeds/slices.js';
import { gc, median, random } from './measure.js';
import { report, withBaseline, type Figure } from './report.js';

const ENTRIES = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 1_000_000);
const FLOW_ADDRESSES = 200_000;
const PASSES_PER_SAMPLE = 5;
const LOAD_WARMUPS = 1;
const LOAD_SAMPLES = 3;
const MATCH_WARMUPS = 1;
const MATCH_SAMPLES = 7;
const mib = 2 ** 20;


/** JS heap plus ArrayBuffer memory (typed arrays live outside the heap), after GC. */
function memoryAfterGc(): { heap: number; arrayBuffers: number } {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heap: heapUsed, arrayBuffers };
}


const ipv4 = (value: number) => `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
/** A fresh sequential string, as a decoder makes (a template literal makes a rope). */
const flat = (text: string) => Buffer.from(text, 'latin1').toString('latin1');

// ---------------------------------------------------------------------------------------------
// The feed

interface Feed {
  /** Each entry as written (no comment). */
  readonly blocks: string[];
  /** Single listed addresses and the networks of listed /24s, for hits. */
  readonly singles: number[];
  readonly slash24s: number[];
}

function generateFeed(entries: number): Feed {
  const next = random(7);
  const pick = (n: number) => Math.floor(next() * n);
  const publicAddress = () => {
    for (;;) {
      const value = Math.floor(next() * 2 ** 32);
      const first = value >>> 24;
      if (first !== 0 && first !== 10 && first !== 127 && first < 224) return value;
    }
  };
  const blocks: string[] = [];
  const singles: number[] = [];
  const slash24s: number[] = [];
  for (let i = 0; i < entries; i++) {
    const kind = next();
    if (kind < 0.85) {
      const value = publicAddress();
      singles.push(value);
      blocks.push(ipv4(value));
    } else if (kind < 0.95) {
      const network = (publicAddress() & 0xffffff00) >>> 0;
      slash24s.push(network);
      blocks.push(`${ipv4(network)}/24`);
    } else if (kind < 0.98 || kind < 0.99) {
      const prefix = kind < 0.98 ? 16 + pick(8) : 25 + pick(7);
      blocks.push(`${ipv4((publicAddress() & ((0xffffffff << (32 - prefix)) >>> 0)) >>> 0)}/${prefix}`);
    } else {
      const groups = [0x2001, 0xdb8, pick(0x10000), pick(0x10000)].map((group) => group.toString(16)).join(':');
      blocks.push(next() < 0.5 ? `${groups}::/48`.replace(/:[0-9a-f]+::\/48$/, '::/48') : `${groups}::${(1 + pick(0xfffe)).toString(16)}`);
    }
  }
  return { blocks, singles, slash24s };
}

function textOf(feed: Feed): string {
  const next = random(11);
  const header = Array.from({ length: 20 }, (_, i) => `# generated blocklist, header line ${i + 1}`);
  const lines = feed.blocks.map((block) => (next() < 0.02 ? `${block}  # campaign-${Math.floor(next() * 50)}` : block));
  return `${[...header, ...lines].join('\n')}\n`;
}

function csvOf(feed: Feed): string {
  const malware = ['Emotet', 'QakBot', 'Dridex', 'IcedID', 'TrickBot', 'Cobalt Strike', 'Pikabot', 'AsyncRAT', 'Remcos', 'BumbleBee'];
  const rows = feed.blocks.map((block, i) => `"2026-11-${String(1 + (i % 28)).padStart(2, '0')} 00:00:00","${block}","443","${malware[i % malware.length]}"`);
  return `"first_seen_utc","ip","dst_port","malware"\n${rows.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Load

interface Load {
  readonly parseSeconds: number;
  readonly buildSeconds: number;
  readonly entries: number;
  readonly blocks: number;
}

function loadOnce(text: string, format: 'text' | 'csv'): Load {
  const start = performance.now();
  const parsed = parseFeed('bench', text, format);
  const parsedAt = performance.now();
  const index = FeedIndex.build([parsed]);
  const end = performance.now();
  if (parsed.problemCount !== 0) throw new Error(`${format}: ${parsed.problemCount} problems, first: ${parsed.problems[0]?.message}`);
  return { parseSeconds: (parsedAt - start) / 1000, buildSeconds: (end - parsedAt) / 1000, entries: parsed.entries.length, blocks: index.size };
}

function loadMedian(text: string, format: 'text' | 'csv'): Load {
  for (let i = 0; i < LOAD_WARMUPS; i++) loadOnce(text, format);
  const loads = Array.from({ length: LOAD_SAMPLES }, () => loadOnce(text, format));
  const byTotal = [...loads].sort((a, b) => a.parseSeconds + a.buildSeconds - (b.parseSeconds + b.buildSeconds));
  return byTotal[Math.floor(byTotal.length / 2)]!;
}

/** Runs steps to the end, returning the value and how long each step took, in ms. */
function timedSteps<T>(steps: Steps<T>): { value: T; stepsMs: number[] } {
  const stepsMs: number[] = [];
  for (;;) {
    const start = performance.now();
    const step = steps.next();
    stepsMs.push(performance.now() - start);
    if (step.done) return { value: step.value, stepsMs };
  }
}

// ---------------------------------------------------------------------------------------------
// Match

function flowAddresses(feed: Feed): string[] {
  const next = random(23);
  const pick = (n: number) => Math.floor(next() * n);
  return Array.from({ length: FLOW_ADDRESSES }, () => {
    const kind = next();
    if (kind < 0.6) return flat(`10.${64 + pick(16)}.${pick(256)}.${pick(256)}`);
    if (kind < 0.7) return flat(`10.0.${pick(4)}.${10 + pick(200)}`);
    if (kind < 0.95) return flat(ipv4((1 + pick(222)) * 2 ** 24 + pick(2 ** 24)));
    if (kind < 0.98) return flat(ipv4(feed.singles[pick(feed.singles.length)]!));
    return flat(ipv4(feed.slash24s[pick(feed.slash24s.length)]! + pick(256)));
  });
}

interface MatchCase {
  readonly name: string;
  /** One pass over the addresses; returns the hits. */
  readonly pass: () => number;
  readonly rates: number[];
  hits: number;
}

function sampleMatch(cases: readonly MatchCase[], turn: number, keep: boolean): void {
  for (let k = 0; k < cases.length; k++) {
    const c = cases[(k + turn) % cases.length]!;
    let hits = 0;
    const start = process.hrtime.bigint();
    for (let p = 0; p < PASSES_PER_SAMPLE; p++) hits += c.pass();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    c.hits = hits / PASSES_PER_SAMPLE;
    if (keep) c.rates.push((PASSES_PER_SAMPLE * FLOW_ADDRESSES) / seconds);
  }
}

function main(): void {
  const began = performance.now();
  const feed = generateFeed(ENTRIES);
  const text = textOf(feed);
  const csv = csvOf(feed);
  const figures: Figure[] = [];
  const settings: Record<string, unknown> = {
    entries: ENTRIES,
    textBytes: text.length,
    csvBytes: csv.length,
    loadWarmups: LOAD_WARMUPS,
    loadSamples: LOAD_SAMPLES,
    flowAddresses: FLOW_ADDRESSES,
    passesPerSample: PASSES_PER_SAMPLE,
    matchWarmups: MATCH_WARMUPS,
    matchSamples: MATCH_SAMPLES,
  };

  // Load: text, then CSV.
  const textLoad = loadMedian(text, 'text');
  const csvLoad = loadMedian(csv, 'csv');
  if (textLoad.entries !== ENTRIES || csvLoad.entries !== ENTRIES) throw new Error(`entries: text ${textLoad.entries}, csv ${csvLoad.entries}, expected ${ENTRIES}`);
  const label = `${ENTRIES / 1e6}M`;
  figures.push(
    { name: `load ${label} blocks, text`, value: textLoad.parseSeconds + textLoad.buildSeconds, unit: 's' },
    { name: `  parse, text`, value: textLoad.parseSeconds, unit: 's' },
    { name: `  index build`, value: textLoad.buildSeconds, unit: 's' },
    { name: `load ${label} blocks, csv`, value: csvLoad.parseSeconds + csvLoad.buildSeconds, unit: 's' },
  );
  Object.assign(settings, { distinctBlocks: textLoad.blocks, textLoad, csvLoad });

  // Memory of what a FeedSet keeps for the feed: the index and the entries (with notes) it refers to.
  const before = memoryAfterGc();
  const sliced = timedSteps(parseFeedSteps('bench', text, 'text'));
  const built = timedSteps(FeedIndex.buildSteps([sliced.value]));
  const index = built.value;
  const after = memoryAfterGc();
  const heapBytes = after.heap - before.heap;
  const slices = [...sliced.stepsMs, ...built.stepsMs];
  const arrayBytes = after.arrayBuffers - before.arrayBuffers;
  figures.push(
    { name: `index memory, ${label} blocks`, value: (heapBytes + arrayBytes) / mib, unit: 'MiB' },
    { name: '  of which JS heap', value: heapBytes / mib, unit: 'MiB' },
    { name: 'index memory per entry', value: (heapBytes + arrayBytes) / ENTRIES, unit: 'bytes' },
    { name: 'refresh slice, median', value: median(slices), unit: 'ms' },
    { name: 'refresh slice, longest (GC in)', value: Math.max(...slices), unit: 'ms' },
  );
  Object.assign(settings, {
    indexHeapBytes: heapBytes,
    indexArrayBufferBytes: arrayBytes,
    refreshSlices: slices.length,
    longestParseSliceMs: Number(Math.max(...sliced.stepsMs).toFixed(1)),
    longestBuildSliceMs: Number(Math.max(...built.stepsMs).toFixed(1)),
  });

  // Match, beside Map.get of the same strings.
  const addresses = flowAddresses(feed);
  const exact = new Map<string, number>(feed.singles.map((value, i) => [ipv4(value), i]));
  const small = new Map<string, number>(addresses.slice(0, 1_000).map((address, i) => [address, i]));
  const cases: MatchCase[] = [
    {
      name: 'Map.get, 1k addresses',
      pass: () => {
        let hits = 0;
        for (const address of addresses) if (small.get(address) !== undefined) hits++;
        return hits;
      },
      rates: [],
      hits: 0,
    },
    {
      name: 'Map.get, exact addresses',
      pass: () => {
        let hits = 0;
        for (const address of addresses) if (exact.get(address) !== undefined) hits++;
        return hits;
      },
      rates: [],
      hits: 0,
    },
    {
      name: 'FeedIndex.match, flow addresses',
      pass: () => {
        let hits = 0;
        for (const address of addresses) if (index.match(address) !== undefined) hits++;
        return hits;
      },
      rates: [],
      hits: 0,
    },
  ];
  for (let round = 0; round < MATCH_WARMUPS + MATCH_SAMPLES; round++) sampleMatch(cases, round, round >= MATCH_WARMUPS);
  const [floor, baseline, matching] = cases as [MatchCase, MatchCase, MatchCase];
  if (matching.hits < baseline.hits) throw new Error(`index found ${matching.hits} hits, fewer than the ${baseline.hits} exact ones`);
  figures.push(
    { name: 'Map.get, 1k addresses (floor)', value: median(floor.rates), unit: 'lookups/s' },
    { name: `Map.get, ${label} exact addresses`, value: median(baseline.rates), unit: 'lookups/s' },
    withBaseline('FeedIndex.match, flow addresses', median(matching.rates), 'lookups/s', 'Map.get exact', median(baseline.rates)),
    withBaseline('FeedIndex.match, flow addresses', median(matching.rates), 'lookups/s', 'Map.get floor', median(floor.rates)),
  );
  Object.assign(settings, {
    hitRate: Number((matching.hits / FLOW_ADDRESSES).toFixed(4)),
    exactHitRate: Number((baseline.hits / FLOW_ADDRESSES).toFixed(4)),
    rates: Object.fromEntries(cases.map((c) => [c.name, c.rates.map(Math.round)])),
    seconds: Number(((performance.now() - began) / 1000).toFixed(1)),
  });
  report('feeds', figures, settings);
}

main();
