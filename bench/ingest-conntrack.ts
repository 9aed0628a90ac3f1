/**
 * `npx tsx bench/ingest-conntrack.ts [connections] [--no-kernel]`: the conntrack collector at
 * 100 000 live connections.
 *
 * - Throughput (entries/s) of parse, and of parse + delta + aggregation over several polls
 *   with counters changing, beside the raw line-split rate of the same dump in the same run.
 * - The collector's memory with every connection tracked (heap after GC, RSS).
 * - Kernel readers, when run as root with conntrack and nft installed: wall time to produce the
 *   same number of entries with `conntrack -L -o extended,id`, `-o xml,id`, and by reading
 *   /proc/net/nf_conntrack, in a throwaway network namespace (entries loaded with
 *   `conntrack -R`; nothing is sent); and `nft -j list set` of a 10 000-element deny set.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConntrackCollector } from '../ingest/conntrack-collector.js';
import { parseNftDenySet } from '../ingest/conntrack-deny.js';
import { capture, forEachLine, forEachLineRange } from '../ingest/conntrack-exec.js';
import { AddressInterner } from '../ingest/conntrack-address.js';
import { type ConntrackEntry, parseConntrackBytes } from '../ingest/conntrack-parse.js';
import { type Figure, report, withBaseline } from './report.js';

const args = process.argv.slice(2);
const connections = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 100_000);
const kernel = !args.includes('--no-kernel');
const POLLS = 4;
const ROUNDS = 3;
const WARMUP_ROUNDS = 1;
const KERNEL_RUNS = 3;
const DENY_ELEMENTS = 10_000;
const mib = 2 ** 20;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Connection i as `conntrack -L -o extended,id` prints it; half originate on the node, half answer there. */
function lineOf(i: number, poll: number, generation: number): string {
  const pod = `10.244.${1 + ((i >> 6) & 3)}.${2 + (i & 63)}`;
  const peer = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const outbound = (i & 1) === 0;
  const [src, dst] = outbound ? [pod, peer] : [peer, pod];
  const sport = 32768 + (i % 28000);
  const dport = [443, 80, 5432, 6379, 8080][i % 5]!;
  const busy = i % 3 === 0 ? poll : 0;
  const op = 10 + busy * 7 + generation;
  const rp = 8 + busy * 5;
  const id = (i * 2654435761 + generation) >>> 0;
  if (i % 10 === 9) {
    return `ipv4     2 udp      17 29 src=${src} dst=${dst} sport=${sport} dport=53 packets=${op} bytes=${op * 80} src=${dst} dst=${src} sport=53 dport=${sport} packets=${rp} bytes=${rp * 160} mark=0 use=1 id=${id}`;
  }
  const state = i % 20 === 0 ? 'TIME_WAIT' : 'ESTABLISHED';
  return `ipv4     2 tcp      6 431999 ${state} src=${src} dst=${dst} sport=${sport} dport=${dport} packets=${op} bytes=${op * 1200} src=${dst} dst=${src} sport=${dport} dport=${sport} packets=${rp} bytes=${rp * 300} [ASSURED] mark=0 use=1 id=${id}`;
}

/** One poll's dump, written line by line into one Buffer (as `conntrack -L` output arrives). */
function dumpOf(poll: number, generation: (i: number) => number): Buffer {
  const out = Buffer.allocUnsafe(connections * 260);
  let at = 0;
  for (let i = 0; i < connections; i++) {
    at += out.write(lineOf(i, poll, generation(i)), at, 'latin1');
    out[at++] = 10;
  }
  return out.subarray(0, at);
}

/** Dumps of successive polls: counters grow on a third of the connections, 2% are replaced by new ones. */
function dumps(): Buffer[] {
  return Array.from({ length: POLLS }, (_, poll) => dumpOf(poll, (i) => (i % 50 === poll ? poll : 0)));
}

function time(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/** Entries/s of `run(dump)` over every dump, best of ROUNDS after WARMUP_ROUNDS. */
function rate(polls: readonly Buffer[], run: (dump: Buffer, poll: number) => number): number {
  let best = 0;
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    let entries = 0;
    const ms = time(() => polls.forEach((dump, poll) => (entries += run(dump, poll))));
    if (round >= WARMUP_ROUNDS) best = Math.max(best, entries / (ms / 1000));
  }
  return best;
}

function parseAll(dump: Buffer, interner: AddressInterner): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  forEachLineRange(dump, (start, end) => entries.push(parseConntrackBytes(dump, start, end, interner)));
  return entries;
}

const collectorOf = () => new ConntrackCollector({ host: 'node-a', local: ['10.244.0.0/16'], intervalStart: 0, maxConnections: 262_144, maxFlowKeys: 400_000 });

function userspace(figures: Figure[]): Record<string, unknown> {
  const polls = dumps();
  const split = rate(polls, (dump) => {
    let n = 0;
    forEachLine(dump, () => n++);
    return n;
  });
  const interner = new AddressInterner();
  const parse = rate(polls, (dump) => parseAll(dump, interner).length);
  let records = 0;
  const full = rate(polls, (() => {
    let collector = collectorOf();
    return (dump: Buffer, poll: number) => {
      if (poll === 0) collector = collectorOf();
      const entries = parseAll(dump, interner);
      collector.poll(entries);
      records = collector.flush(poll + 1).length;
      return entries.length;
    };
  })());
  const parsed = polls.map((dump) => parseAll(dump, interner));
  const core = rate(polls, (() => {
    let collector = collectorOf();
    return (_dump: Buffer, poll: number) => {
      if (poll === 0) collector = collectorOf();
      collector.poll(parsed[poll]!);
      collector.flush(poll + 1);
      return parsed[poll]!.length;
    };
  })());
  figures.push({ name: 'split lines (baseline)', value: split, unit: 'entries/s' });
  figures.push(withBaseline('parse', parse, 'entries/s', 'split lines', split));
  figures.push(withBaseline('parse + delta + aggregate', full, 'entries/s', 'split lines', split));
  figures.push(withBaseline('delta + aggregate (parsed)', core, 'entries/s', 'split lines', split));

  parsed.length = 0;
  const memory = memoryInChild();
  figures.push({ name: `collector heap, ${memory.tracked} tracked`, value: memory.heap / mib, unit: 'MiB' });
  figures.push({ name: 'collector heap per connection', value: memory.heap / memory.tracked, unit: 'bytes' });
  figures.push(withBaseline(`process rss, ${memory.tracked} tracked`, memory.rss / mib, 'MiB', 'rss before', memory.rssBefore / mib));
  figures.push({ name: 'process peak rss during polls', value: memory.maxRss / mib, unit: 'MiB' });
  return { connections, polls: POLLS, rounds: ROUNDS, warmupRounds: WARMUP_ROUNDS, dumpBytes: polls[0]!.length, recordsPerInterval: records };
}

interface Memory {
  readonly tracked: number;
  readonly heap: number;
  readonly rss: number;
  readonly rssBefore: number;
  readonly maxRss: number;
}

/** Memory of a fresh process that polls two dumps of `connections` entries into one collector, dumps released. */
function memoryInChild(): Memory {
  const child = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, String(connections), '--memory-child'], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`memory child failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Memory;
}

function memoryChild(): void {
  const interner = new AddressInterner();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;
  const collector = collectorOf();
  for (let poll = 0; poll < 2; poll++) {
    collector.poll(parseAll(dumpOf(poll, () => 0), interner));
    collector.flush(poll + 1);
  }
  gc();
  const memory: Memory = {
    tracked: collector.stats().connections.tracked,
    heap: process.memoryUsage().heapUsed - heapBefore,
    rss: process.memoryUsage().rss,
    rssBefore,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
  console.log(JSON.stringify(memory));
}

function sh(argv: readonly string[], input?: string): { ok: boolean; out: string } {
  const result = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', maxBuffer: 1024 * mib });
  return { ok: result.status === 0, out: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

async function median(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < KERNEL_RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

async function kernelReaders(figures: Figure[]): Promise<Record<string, unknown>> {
  const missing = ['ip', 'conntrack', 'nft'].filter((tool) => !sh(['sh', '-c', `command -v ${tool}`]).ok);
  if (process.getuid?.() !== 0 || missing.length > 0) return { kernel: `skipped: needs root and ${missing.join(', ') || 'nothing else'}` };
  const ns = `fsct-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}-node`;
  const dir = mkdtempSync(join(tmpdir(), 'fs-conntrack-'));
  const inNs = (argv: readonly string[]) => ['ip', 'netns', 'exec', ns, ...argv];
  try {
    if (!sh(['ip', 'netns', 'add', ns]).ok) return { kernel: 'skipped: ip netns add failed' };
    sh(inNs(['sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1']));
    const load = Array.from({ length: connections }, (_, i) => {
      const a = `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      return `-I -s ${a} -d 10.200.0.1 -p tcp --sport ${1024 + (i % 60000)} --dport 443 --state ESTABLISHED -t 3600 -u ASSURED`;
    });
    writeFileSync(join(dir, 'load'), `${load.join('\n')}\n`);
    const loaded = sh(inNs(['conntrack', '-R', join(dir, 'load')]));
    const count = Number(sh(inNs(['conntrack', '-C'])).out.trim());
    if (!loaded.ok || count < connections) return { kernel: `skipped: loaded ${count} of ${connections} entries: ${loaded.out.slice(-200)}` };
    const list = await median(() => capture(inNs(['conntrack', '-L', '-o', 'extended,id'])));
    const xml = await median(() => capture(inNs(['conntrack', '-L', '-o', 'xml,id'])));
    const hasProc = sh(inNs(['test', '-r', '/proc/net/nf_conntrack'])).ok;
    const proc = hasProc ? await median(() => capture(inNs(['cat', '/proc/net/nf_conntrack']))) : NaN;
    const interner = new AddressInterner();
    const listAndParse = await median(async () => parseAll(await capture(inNs(['conntrack', '-L', '-o', 'extended,id'])), interner));
    figures.push(withBaseline(`conntrack -L -o extended,id (${count})`, list, 'ms', '/proc/net/nf_conntrack', proc));
    figures.push(withBaseline(`conntrack -L -o xml,id (${count})`, xml, 'ms', '/proc/net/nf_conntrack', proc));
    figures.push({ name: `/proc/net/nf_conntrack (${count})`, value: proc, unit: 'ms' });
    figures.push(withBaseline(`conntrack -L + parse (${count})`, listAndParse, 'ms', 'conntrack -L alone', list));

    const elements = Array.from({ length: DENY_ELEMENTS }, (_, i) => `10.1.${i >> 8}.${i & 255} . 10.2.0.1 . tcp . ${1 + (i % 60000)} counter packets ${i} bytes ${i * 60}`);
    const table = `table inet fsbench { set denied { type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags dynamic,timeout; timeout 600s; size 65536; counter; elements = { ${elements.join(', ')} }; }; }\n`;
    const added = sh(inNs(['nft', '-f', '-']), table);
    if (added.ok) {
      const nft = await median(async () => parseNftDenySet((await capture(inNs(['nft', '-j', 'list', 'set', 'inet', 'fsbench', 'denied']))).toString('utf8')));
      figures.push({ name: `nft -j list set + parse (${DENY_ELEMENTS})`, value: nft, unit: 'ms' });
    }
    return { kernelEntries: count, kernelRuns: KERNEL_RUNS, procPresent: hasProc, denyElements: added.ok ? DENY_ELEMENTS : `not loaded: ${added.out.slice(0, 200)}` };
  } finally {
    sh(['ip', 'netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--memory-child')) {
  memoryChild();
  process.exit(0);
}
const figures: Figure[] = [];
const settings = userspace(figures);
Object.assign(settings, kernel ? await kernelReaders(figures) : { kernel: 'skipped (--no-kernel)' });
report('ingest-conntrack', figures, settings);
