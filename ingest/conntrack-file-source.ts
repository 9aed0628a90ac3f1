/**
 * Replays a recorded `conntrack -E -o timestamp[,extended][,id]` file (plain or gzip) through the
 * node collector's core, in intervals of event time aligned to `intervalMs`. Only DESTROY events
 * carry counters, so only they are fed to the collector: a connection is reported whole, in the
 * interval where it began when the file holds its NEW event (its identity is whoever held the
 * addresses then: a conntrack entry outlives its pod by minutes), else in the interval of its
 * DESTROY. Such a record of an earlier interval comes out with the interval of its DESTROY, after
 * that interval's own records. NEW and UPDATE events otherwise only move the clock. Bad lines, and lines
 * without a timestamp, become problems naming `path:line`. Streaming, deterministic; the
 * position is the line reached and `commit` does nothing (a replay is simply run again).
 */
import { AddressInterner } from './conntrack-address.js';
import { ConntrackCollector, type ConntrackCollectorStats } from './conntrack-collector.js';
import { LocalEndpoints } from './conntrack-direction.js';
import { type ConntrackEntry, parseConntrackBytes } from './conntrack-parse.js';
import { AGGREGATION_LEVELS, type AggregationLevel } from './flow-aggregator.js';
import { IngestError, problemOf } from './problems.js';
import { flattenCounts, type FlowSource, type ParseProblem, type SourceBatch } from './source.js';
import { fileChunks, isCorruptGzip, splitLines, type InputLine } from './vpc-line-reader.js';
import type { RawFlow } from '../schemas/types.js';

/** NEW times kept for connections still open; the oldest are forgotten beyond this. */
const MAX_STARTED = 200_000;
/** How old a NEW found by tuple (no kernel id) may be and still count as the connection's start. */
const MAX_TUPLE_AGE_MS = 10 * 60_000;

/** A connection: the kernel's id when the file has one, else its original tuple. */
function connectionKey(entry: ConntrackEntry): string {
  return entry.id !== null ? `#${entry.id}` : `${entry.proto}|${entry.src}|${entry.sport}|${entry.dst}|${entry.dport}|${entry.tupleExtra}|${entry.zone}`;
}

export interface ConntrackFileSourceOptions {
  readonly path: string;
  /** Node name, written as `host`. */
  readonly host: string;
  /**
   * The node's pod and host addresses or CIDR blocks, with the collector's rules (both ends
   * local: both records). Without it every address is local and each connection is reported
   * once, by its originator (`src`).
   */
  readonly local?: readonly string[];
  /** Interval length in ms; default 10 000. */
  readonly intervalMs?: number;
  /** Default `no-source-port`, as the live source. */
  readonly level?: AggregationLevel;
}

export interface ConntrackFileCounts {
  lines: number;
  blank: number;
  /** conntrack's own `N flow events have been shown.` lines (stderr recorded with stdout). */
  notices: number;
  events: number;
  destroyEvents: number;
  /** NEW and UPDATE events: no counters (a NEW's time is kept for its connection). */
  ignoredEvents: number;
  /** Events timed before the open interval, added to it. */
  lateEvents: number;
  /** Connections reported in the earlier interval where their NEW event was. */
  reportedWhereBegun: number;
  problems: number;
}

export interface ConntrackFileSourceStats extends ConntrackFileCounts {
  readonly collector: ConntrackCollectorStats | null;
}

/** Conntrack lines are a few hundred bytes; a longer one is cut and reported. */
const MAX_LINE_BYTES = 16 * 1024;
/** Problems held at most before they go out in a batch of their own. */
const MAX_PENDING_PROBLEMS = 1_000;
const EVERY_ADDRESS = ['0.0.0.0/0', '::/0'];
const NOTICE = /^conntrack v[\d.]+ \(conntrack-tools\): \d+ flow (events|entries) have been shown\.\s*$/;

const emptyCounts = (): ConntrackFileCounts => ({ lines: 0, blank: 0, notices: 0, events: 0, destroyEvents: 0, ignoredEvents: 0, lateEvents: 0, reportedWhereBegun: 0, problems: 0 });

function isBlank(bytes: Buffer): boolean {
  for (const c of bytes) if (c !== 32 && c !== 9 && c !== 13) return false;
  return true;
}

export class ConntrackFileSource implements FlowSource<number> {
  readonly name = 'conntrack-file';
  private readonly intervalMs: number;
  private readonly local: LocalEndpoints;
  private readonly interner = new AddressInterner();
  private counts: ConntrackFileCounts = emptyCounts();
  private collector: ConntrackCollector | null = null;
  private iterating = false;
  private closed = false;

  constructor(private readonly options: ConntrackFileSourceOptions) {
    this.intervalMs = options.intervalMs ?? 10_000;
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs <= 0) throw new RangeError(`intervalMs: ${options.intervalMs} is not a positive whole number of ms`);
    if (options.local?.length === 0) throw new RangeError('local: give at least one address or CIDR block, or leave it out to count every address as local');
    // Throws RangeError naming a bad entry.
    this.local = LocalEndpoints.of(options.local ?? EVERY_ADDRESS);
    if (options.level !== undefined && !AGGREGATION_LEVELS.includes(options.level)) throw new RangeError(`level: ${JSON.stringify(options.level)} is not tuple or no-source-port`);
  }

  /** Reads the file from its start; each call is a new replay with the same result. */
  async *batches(): AsyncGenerator<SourceBatch<number>> {
    if (this.iterating) throw new IngestError('INGEST_BUSY', `${this.name}: batches() is already being read`);
    this.iterating = true;
    try {
      yield* this.replay();
    } finally {
      this.iterating = false;
    }
  }

  async commit(_position: number): Promise<void> {}

  /** Ends a running replay at its next line, without closing the open interval. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Counts of the latest replay. */
  stats(): ConntrackFileSourceStats {
    return { ...this.counts, collector: this.collector?.stats() ?? null };
  }

  countsByName(): Record<string, number> {
    return flattenCounts(this.stats());
  }

  private newCollector(intervalStart: number): ConntrackCollector {
    return new ConntrackCollector({
      host: this.options.host,
      local: this.local,
      level: this.options.level,
      ...(this.options.local === undefined ? { bothLocal: 'src' as const } : {}),
      intervalStart,
    });
  }

  private async *replay(): AsyncGenerator<SourceBatch<number>> {
    const { path } = this.options;
    const counts = (this.counts = emptyCounts());
    this.collector = null;
    if (this.closed) return;
    let collector: ConntrackCollector | null = null;
    let end = 0;
    let problems: ParseProblem[] = [];
    /** First line fed to the open interval; the lines before it are all delivered. */
    let openFrom: number | null = null;
    let last = 0;
    const problem = (line: number, original: Buffer, error: unknown) => {
      counts.problems++;
      problems.push(problemOf({ source: path, line }, Buffer.from(original), error));
    };
    /** NEW times of connections not yet ended, by connection. */
    const started = new Map<string, number>();
    /** Ended connections that began in an earlier interval, by that interval's start. */
    const earlier = new Map<number, ConntrackEntry[]>();
    const flushEarlier = (): RawFlow[] => {
      const flows: RawFlow[] = [];
      for (const start of [...earlier.keys()].sort((a, b) => a - b)) {
        const past = this.newCollector(start);
        for (const entry of earlier.get(start)!) past.destroyed(entry);
        flows.push(...past.flush(start + this.intervalMs));
      }
      earlier.clear();
      return flows;
    };
    const take = (): ParseProblem[] => {
      const taken = problems;
      problems = [];
      return taken;
    };
    try {
      for await (const line of splitLines(fileChunks(path), MAX_LINE_BYTES)) {
        if (this.closed) return;
        last = line.number;
        counts.lines++;
        const entry = this.eventOf(line, counts, problem);
        if (entry === null) {
          if (problems.length >= MAX_PENDING_PROBLEMS) yield { flows: [], problems: take(), position: openFrom === null ? line.number : openFrom - 1 };
          continue;
        }
        const time = entry.time!;
        counts.events++;
        if (collector === null) {
          collector = this.collector = this.newCollector(this.align(time));
          end = collector.intervalStart + this.intervalMs;
        } else if (time >= end) {
          const flows = [...collector.flush(end), ...flushEarlier()];
          // The table tracks nothing (a file has no dumps): an empty poll only ages its tombstones.
          collector.poll([]);
          const next = this.align(time);
          if (next > end) collector.flush(next); // the empty intervals in between
          end = next + this.intervalMs;
          openFrom = null;
          if (flows.length > 0 || problems.length > 0) yield { flows, problems: take(), position: line.number - 1 };
          if (this.closed) return;
        } else if (time < collector.intervalStart) {
          counts.lateEvents++;
        }
        if (entry.event === 'DESTROY') {
          counts.destroyEvents++;
          openFrom ??= line.number;
          const key = connectionKey(entry);
          const began = started.get(key);
          started.delete(key);
          // Each DESTROY line ends a distinct connection: its line number as id keeps the table from
          // taking a reused tuple (same or no kernel id) for a duplicate of an earlier event.
          const ended = { ...entry, id: line.number };
          // Without kernel ids a tuple may come back after a lost DESTROY: an old NEW is not trusted.
          const trusted = began !== undefined && (entry.id !== null || time - began <= MAX_TUPLE_AGE_MS);
          const beganIn = trusted ? this.align(began) : collector.intervalStart;
          if (beganIn < collector.intervalStart) {
            counts.reportedWhereBegun++;
            const list = earlier.get(beganIn);
            if (list) list.push(ended);
            else earlier.set(beganIn, [ended]);
          } else {
            collector.destroyed(ended);
          }
        } else {
          if (entry.event === 'NEW') {
            started.set(connectionKey(entry), time);
            if (started.size > MAX_STARTED) started.delete(started.keys().next().value!);
          }
          // NEW/UPDATE: the kernel sends counters with DESTROY only. A connection without a DESTROY in the file is not reported.
          counts.ignoredEvents++;
        }
      }
    } catch (error) {
      if (!isCorruptGzip(error)) throw error;
      problem(last + 1, Buffer.alloc(0), new IngestError('INGEST_BAD_FILE', `gzip data is corrupt or truncated after line ${last}: ${(error as Error).message}`));
    }
    if (this.closed) return;
    const flows: RawFlow[] = collector === null ? [] : [...collector.flush(end), ...flushEarlier()];
    if (flows.length > 0 || problems.length > 0) yield { flows, problems: take(), position: last };
  }

  /** The line's event with its time, or null (blank, a notice, or a problem recorded). */
  private eventOf(line: InputLine, counts: ConntrackFileCounts, problem: (line: number, original: Buffer, error: unknown) => void): ConntrackEntry | null {
    if (line.cut) {
      problem(line.number, line.bytes, new IngestError('INGEST_LINE_TOO_LONG', `line longer than ${MAX_LINE_BYTES} bytes`));
      return null;
    }
    if (isBlank(line.bytes)) {
      counts.blank++;
      return null;
    }
    let entry: ConntrackEntry;
    try {
      entry = parseConntrackBytes(line.bytes, 0, line.bytes.length, this.interner);
    } catch (error) {
      if (NOTICE.test(line.bytes.toString('latin1'))) counts.notices++;
      else problem(line.number, line.bytes, error);
      return null;
    }
    if (entry.event === null) {
      problem(line.number, line.bytes, new IngestError('INGEST_BAD_LINE', 'not a conntrack event ([NEW], [UPDATE] or [DESTROY]): replay reads the output of `conntrack -E`'));
      return null;
    }
    if (entry.time === null) {
      problem(line.number, line.bytes, new IngestError('INGEST_MISSING_FIELD', 'no [seconds.microseconds] timestamp: replay needs events recorded with `conntrack -E -o timestamp`'));
      return null;
    }
    return entry;
  }

  private align(time: number): number {
    return Math.floor(time / this.intervalMs) * this.intervalMs;
  }
}
