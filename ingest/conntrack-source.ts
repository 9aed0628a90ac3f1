/**
 * The conntrack FlowSource: a node's connection table, polled once per interval, plus DESTROY
 * events for what closes between polls, plus an nftables deny set; one SourceBatch per interval.
 *
 * Reader: `conntrack -L -o extended,id` (ctnetlink dump) by default: it carries the kernel's
 * connection id (tells a reused tuple apart) and prints the same line format as the events.
 * `/proc/net/nf_conntrack` (`reader: 'proc'`) is about twice as fast to produce but has no id
 * and exists only on kernels built with CONFIG_NF_CONNTRACK_PROCFS. Netlink from Node itself
 * would need a native module. Figures: bench/ingest-conntrack.ts.
 *
 * DESTROY events: a long-running `conntrack -E -e DESTROY -o extended,id,timestamp` carries the
 * final counters of every connection the kernel removes (accounting on).
 *
 * Guarantee: a connection that is in the table at any poll, or whose DESTROY event is
 * delivered, is reported, started once and completed once. With its DESTROY event its counters
 * are exact (an event up to one interval late is still added); without it, what it carried
 * after the last poll that saw it is missing. A normally closed TCP connection stays 120 s in
 * TIME_WAIT and UDP 30 s after its last packet (kernel defaults), so with a poll interval
 * shorter than that the polls alone see every such connection with its final counters; the
 * events matter for entries removed early (RST, `conntrack -D`, early drop when the table is
 * full). What can be lost is counted: `eventsLost` (the kernel dropped events, ENOBUFS) and
 * `eventsDropped` (queue between two ticks full).
 *
 * Position: the interval number. Kernel counters cannot be replayed, so commit only records the
 * last committed interval; a restarted source begins with a baseline poll.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AggregationLevel } from './flow-aggregator.js';
import { ConntrackCollector, type ConntrackCollectorStats } from './conntrack-collector.js';
import type { BothLocal } from './conntrack-direction.js';
import { parseNftCounter, parseNftDenySet } from './conntrack-deny.js';
import {
  capture,
  type CommandNames,
  ConntrackSourceError,
  DEFAULT_COMMANDS,
  forEachLineRange,
  inNetns,
  LineSplitter,
  netlinkSubscribed,
} from './conntrack-exec.js';
import { AddressInterner } from './conntrack-address.js';
import { type ConntrackEntry, parseConntrackBytes, parseConntrackLine } from './conntrack-parse.js';
import { IntervalTicker, type Ticker } from './conntrack-ticks.js';
import { IngestError, problemOf } from './problems.js';
import { flattenCounts, type FlowSource, type ParseProblem, type SourceBatch, type SourceLocation } from './source.js';

export interface ConntrackDenySet {
  /** nftables family of the table: `inet`, `ip`, `ip6`. */
  readonly family: string;
  readonly table: string;
  readonly set: string;
  /** Named counter on the deny rules: what the set could not attribute is counted. */
  readonly counter?: string;
}

export interface ConntrackSourceOptions {
  /** Node name, written as `host`. */
  readonly host: string;
  /** The node's pod and host addresses or CIDR blocks. */
  readonly local: readonly string[];
  /** Network namespace to read (`ip netns exec`); default: the collector's own. */
  readonly netns?: string;
  readonly reader?: 'conntrack' | 'proc';
  /** Interval length when no ticker is given; default 10 s. */
  readonly intervalMs?: number;
  readonly ticker?: Ticker;
  /** Follow DESTROY events; default true. */
  readonly destroyEvents?: boolean;
  /** Netlink receive buffer of the event reader; default 8 MiB. */
  readonly eventBufferBytes?: number;
  /** DESTROY events held between two ticks at most; default 200 000. */
  readonly maxQueuedEvents?: number;
  /** `require` (default) fails when accounting is off; `enable` turns it on. */
  readonly accounting?: 'require' | 'enable';
  readonly deny?: ConntrackDenySet;
  readonly level?: AggregationLevel;
  readonly bothLocal?: BothLocal;
  readonly maxConnections?: number;
  readonly maxFlowKeys?: number;
  readonly maxDenyElements?: number;
  readonly maxProblemsPerBatch?: number;
  readonly commands?: Partial<CommandNames>;
  readonly now?: () => number;
}

export interface ConntrackSourceStats {
  readonly polls: number;
  readonly pollFailures: number;
  readonly lastPollMs: number;
  readonly lastPollEntries: number;
  readonly eventsReceived: number;
  /** ENOBUFS reports of the event reader: the kernel dropped events. */
  readonly eventsLost: number;
  /** Events dropped because the queue between two ticks was full. */
  readonly eventsDropped: number;
  readonly eventRestarts: number;
  readonly denyReadFailures: number;
  readonly problems: number;
  readonly problemsDropped: number;
  readonly lastError: string | null;
  readonly collector: ConntrackCollectorStats | null;
}

const ACCT = '/proc/sys/net/netfilter/nf_conntrack_acct';

export class ConntrackSource implements FlowSource<number> {
  readonly name = 'conntrack';
  private readonly commands: CommandNames;
  private readonly ticker: Ticker;
  private readonly now: () => number;
  private readonly interner = new AddressInterner();
  private readonly queue: ConntrackEntry[] = [];
  private eventProblems: ParseProblem[] = [];
  private events: ChildProcess | null = null;
  private stopping: Promise<void> = Promise.resolve();
  private starting: Promise<void> | null = null;
  private collector: ConntrackCollector | null = null;
  private closed = false;
  private interval = 0;
  private committedInterval = 0;
  private lastError: string | null = null;
  private readonly counts = {
    polls: 0,
    pollFailures: 0,
    lastPollMs: 0,
    lastPollEntries: 0,
    eventsReceived: 0,
    eventsLost: 0,
    eventsDropped: 0,
    eventRestarts: 0,
    denyReadFailures: 0,
    problems: 0,
    problemsDropped: 0,
  };

  constructor(private readonly options: ConntrackSourceOptions) {
    this.commands = { ...DEFAULT_COMMANDS, ...options.commands };
    this.now = options.now ?? Date.now;
    this.ticker = options.ticker ?? new IntervalTicker(options.intervalMs ?? 10_000, this.now);
  }

  /** Checks accounting and starts the event reader; resolves once it is subscribed. `batches()` calls it. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      await this.checkAccounting();
      if (this.options.destroyEvents ?? true) await this.startEvents();
    })();
    return this.starting;
  }

  async *batches(): AsyncGenerator<SourceBatch<number>> {
    await this.start();
    this.collector ??= new ConntrackCollector({
      host: this.options.host,
      local: this.options.local,
      level: this.options.level,
      bothLocal: this.options.bothLocal,
      maxConnections: this.options.maxConnections,
      maxFlowKeys: this.options.maxFlowKeys,
      maxDenyElements: this.options.maxDenyElements,
      intervalStart: this.now(),
    });
    try {
      for await (const at of this.ticker) {
        yield await this.tick(this.collector, at);
        if (this.closed) break;
      }
      // closed (or the ticker ended): the event reader's last lines, then the open interval
      this.closed = true;
      await this.stopEvents();
      yield await this.tick(this.collector, this.now());
    } finally {
      await this.stopEvents();
    }
  }

  async commit(position: number): Promise<void> {
    this.committedInterval = Math.max(this.committedInterval, position);
  }

  /** Stops the ticker and the event reader; a running `batches()` flushes the open interval and ends. */
  async close(): Promise<void> {
    this.closed = true;
    this.ticker.stop();
    await this.stopEvents();
  }

  get committed(): number {
    return this.committedInterval;
  }

  stats(): ConntrackSourceStats {
    return { ...this.counts, lastError: this.lastError, collector: this.collector?.stats() ?? null };
  }

  countsByName(): Record<string, number> {
    return flattenCounts(this.stats());
  }

  private async tick(collector: ConntrackCollector, at: number): Promise<SourceBatch<number>> {
    const position = ++this.interval;
    const problems: ParseProblem[] = [];
    const started = performance.now();
    try {
      const entries = await this.readTable(position, problems);
      collector.poll(entries);
      this.counts.polls++;
      this.counts.lastPollEntries = entries.length;
    } catch (error) {
      if (this.counts.polls === 0) throw error;
      this.counts.pollFailures++;
      this.lastError = error instanceof Error ? error.message : String(error);
    }
    this.counts.lastPollMs = performance.now() - started;
    for (const entry of this.queue.splice(0)) collector.destroyed(entry);
    for (const problem of this.eventProblems.splice(0)) this.addProblem(problems, problem);
    if (this.options.deny) await this.readDeny(collector, this.options.deny, problems);
    if (!this.closed && (this.options.destroyEvents ?? true) && this.events === null) {
      this.counts.eventRestarts++;
      await this.startEvents().catch((error: unknown) => (this.lastError = error instanceof Error ? error.message : String(error)));
    }
    return { flows: collector.flush(Math.max(at, collector.intervalStart)), problems, position };
  }

  private async readTable(position: number, problems: ParseProblem[]): Promise<ConntrackEntry[]> {
    const { netns, reader = 'conntrack' } = this.options;
    const c = this.commands;
    const argv = reader === 'proc' ? [c.cat, '/proc/net/nf_conntrack'] : [c.conntrack, '-L', '-o', 'extended,id'];
    const output = reader === 'proc' && netns === undefined ? await readFile('/proc/net/nf_conntrack') : await capture(inNetns(c, netns, argv));
    const source = `${argv.join(' ')}${netns === undefined ? '' : ` (netns ${netns})`}`;
    const entries: ConntrackEntry[] = [];
    forEachLineRange(output, (start, end, lineNumber) => {
      try {
        entries.push(parseConntrackBytes(output, start, end, this.interner));
      } catch (error) {
        this.addProblem(problems, problemOf({ source, line: lineNumber, offset: `interval ${position}` }, Buffer.from(output.subarray(start, end)), error));
      }
    });
    return entries;
  }

  private async readDeny(collector: ConntrackCollector, deny: ConntrackDenySet, problems: ParseProblem[]): Promise<void> {
    const c = this.commands;
    const { netns } = this.options;
    const setArgv = [c.nft, '-j', 'list', 'set', deny.family, deny.table, deny.set];
    try {
      const { elements, skipped } = parseNftDenySet((await capture(inNetns(c, netns, setArgv))).toString('utf8'));
      const location: SourceLocation = { source: setArgv.join(' '), offset: `interval ${this.interval}` };
      for (const why of skipped) this.addProblem(problems, problemOf(location, why, new IngestError('INGEST_BAD_FIELD', why)));
      let total: number | undefined;
      if (deny.counter !== undefined) {
        const counterArgv = [c.nft, '-j', 'list', 'counter', deny.family, deny.table, deny.counter];
        total = parseNftCounter((await capture(inNetns(c, netns, counterArgv))).toString('utf8')).packets;
      }
      collector.denied(elements, total);
    } catch (error) {
      this.counts.denyReadFailures++;
      this.lastError = error instanceof Error ? error.message : String(error);
    }
  }

  private addProblem(problems: ParseProblem[], problem: ParseProblem): void {
    this.counts.problems++;
    if (problems.length < (this.options.maxProblemsPerBatch ?? 100)) problems.push(problem);
    else this.counts.problemsDropped++;
  }

  private async checkAccounting(): Promise<void> {
    const { netns, accounting = 'require' } = this.options;
    const c = this.commands;
    const where = netns === undefined ? '' : ` in netns ${netns}`;
    const read = async () =>
      (netns === undefined ? await readFile(ACCT, 'utf8') : (await capture(inNetns(c, netns, [c.cat, ACCT]))).toString('utf8')).trim();
    let value: string;
    try {
      value = await read();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ConntrackSourceError('CONNTRACK_ACCOUNTING_OFF', `cannot read ${ACCT}${where} (is nf_conntrack loaded?): ${why}`, false);
    }
    if (value !== '1' && accounting === 'enable') {
      await capture(inNetns(c, netns, [c.sysctl, '-qw', 'net.netfilter.nf_conntrack_acct=1']));
      value = await read();
    }
    if (value !== '1') {
      throw new ConntrackSourceError(
        'CONNTRACK_ACCOUNTING_OFF',
        `connection accounting is off${where}: set net.netfilter.nf_conntrack_acct=1 (or accounting: 'enable'); connections opened before carry no counters`,
        false,
      );
    }
  }

  private async startEvents(): Promise<void> {
    const c = this.commands;
    const { netns, eventBufferBytes = 8 * 2 ** 20, maxQueuedEvents = 200_000 } = this.options;
    const argv = inNetns(c, netns, [c.conntrack, '-E', '-e', 'DESTROY', '-o', 'extended,id,timestamp', '-b', String(eventBufferBytes)]);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.events = child;
    const source = `${argv.join(' ')}`;
    const out = new LineSplitter();
    const err = new LineSplitter();
    child.stdout!.on('data', (chunk: Buffer) =>
      out.push(chunk, (line) => {
        this.counts.eventsReceived++;
        try {
          const entry = parseConntrackLine(line, this.interner);
          if (entry.event !== 'DESTROY') return;
          if (this.queue.length < maxQueuedEvents) this.queue.push(entry);
          else this.counts.eventsDropped++;
        } catch (error) {
          if (this.eventProblems.length < (this.options.maxProblemsPerBatch ?? 100)) this.eventProblems.push(problemOf({ source }, line, error));
          else this.counts.problemsDropped++;
        }
      }),
    );
    child.stderr!.on('data', (chunk: Buffer) =>
      err.push(chunk, (line) => {
        if (/ENOBUFS/.test(line)) this.counts.eventsLost++;
        else if (!/flow events have been shown|^NOTICE/.test(line)) this.lastError = `${source}: ${line}`;
      }),
    );
    const exited = new Promise<void>((resolveExit) => child.once('close', () => resolveExit()));
    child.once('close', () => {
      if (this.events === child) this.events = null;
    });
    child.once('error', (error) => (this.lastError = `${source}: ${error.message}`));
    const deadline = performance.now() + 10_000;
    while (!(await netlinkSubscribed(child.pid ?? -1))) {
      const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10))]);
      if (gone || performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new ConntrackSourceError('CONNTRACK_EVENTS_NOT_READY', `${source} did not subscribe to DESTROY events${this.lastError ? `: ${this.lastError}` : ''}`, true, argv);
      }
    }
  }

  private stopEvents(): Promise<void> {
    const child = this.events;
    this.events = null;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      this.stopping = new Promise<void>((resolveExit) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
        child.once('close', () => {
          clearTimeout(timer);
          resolveExit();
        });
        child.kill('SIGTERM');
      });
    }
    return this.stopping;
  }
}
