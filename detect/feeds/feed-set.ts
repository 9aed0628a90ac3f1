/**
 * The threat feeds in use: every FeedSpec read at start, then again on its own period, with the
 * index of all of them kept current.
 *
 * - A refresh reads the source (HTTP conditional GET, a file only when its time or size
 *   changed), parses the text and builds a new FeedIndex beside the one in use, in slices that
 *   let flows be matched meanwhile, then swaps it in: `current()` gives either the old index or
 *   the new one, never a half-built one. An index is immutable; hold on to `current()` for a
 *   batch and the batch is matched against one version of the feeds.
 * - A failed read keeps the feed's last good data, is counted, reported to `onProblem` and tried
 *   again at the next period. So is a read with problems and not one entry (an error page
 *   served with 200, a wrong format).
 * - Timers are unref'd (they never keep a process alive) and `close()` stops them and abandons
 *   reads under way.
 */
import { logger } from '../../runtime/log.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import type { ParsedFeed } from './feed-collector.js';
import type { FeedProblemCode } from './feed-errors.js';
import { FeedConfigError } from './feed-errors.js';
import { FeedIndex } from './feed-index.js';
import { FeedMetrics } from './feed-metrics.js';
import { parseFeedSteps } from './feed-parse.js';
import type { FeedRead, FeedSource, FeedVersion } from './feed-source.js';
import { checkFeedSpecs, feedSourceOf, type FeedSourceOptions } from './feed-specs.js';
import { defaultRefreshMs, type FeedProblem, type FeedSpec } from './feed.js';
import { runInSlices } from './slices.js';

const log = logger('feeds');

export interface FeedSetOptions extends FeedSourceOptions {
  /** Counters and gauges by feed (see feed-metrics.ts). */
  readonly metrics?: MetricsRegistry;
  /** Failed reads, and the first `reportedProblems` line problems of each new text. Default: a line on stderr. */
  readonly onProblem?: (problem: FeedProblem) => void;
  /** Line problems per new text given to `onProblem`; all of them are counted. Default 10. */
  readonly reportedProblems?: number;
  /** The source of a spec. Default: HTTP for http(s) URLs, a file otherwise. */
  readonly sourceOf?: (spec: FeedSpec) => FeedSource;
  /** The clock of `status()` times. Default Date.now. */
  readonly now?: () => number;
}

/** What one refresh of one feed did. */
export interface FeedRefresh {
  readonly feed: string;
  /** `loaded`: new data in use; `unchanged`: the source has nothing new; `failed`: the last good data stays in use. */
  readonly outcome: 'loaded' | 'unchanged' | 'failed';
  /** Entries of the feed in use afterwards. */
  readonly entries: number;
  /** Line problems of the text just loaded. */
  readonly problems: number;
  /** Why it failed. */
  readonly failure?: FeedProblem;
}

export interface FeedStatus {
  readonly feed: string;
  readonly location: string;
  /** Entries in use: 0 until a first good read. */
  readonly entries: number;
  /** When the data in use was read (ms since the epoch). */
  readonly loadedAt?: number;
  /** When the source was last tried. */
  readonly checkedAt?: number;
  /** Failed reads since the last good one. */
  readonly failures: number;
  readonly lastError?: string;
}

interface FeedState {
  readonly spec: FeedSpec;
  readonly source: FeedSource;
  version?: FeedVersion;
  parsed?: ParsedFeed;
  running?: Promise<FeedRefresh>;
  timer?: NodeJS.Timeout;
  loadedAt?: number;
  checkedAt?: number;
  failures: number;
  lastError?: string;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class FeedSet {
  private readonly feeds: FeedState[];
  private index: FeedIndex = FeedIndex.empty;
  /** Bumped whenever a feed's data changes; the index in use was built at `builtGeneration`. */
  private generation = 0;
  private builtGeneration = 0;
  private building: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private started = false;
  private closed = false;
  private readonly metrics: FeedMetrics | undefined;
  private readonly onProblem: (problem: FeedProblem) => void;
  private readonly reportedProblems: number;
  private readonly now: () => number;

  /** Throws a FeedConfigError naming every problem of the specs. Reads nothing until `start` or `refresh`. */
  constructor(specs: readonly FeedSpec[], options: FeedSetOptions = {}) {
    const checked = checkFeedSpecs(specs);
    const sourceOf = options.sourceOf ?? ((spec: FeedSpec) => feedSourceOf(spec, options));
    this.feeds = checked.map((spec) => ({ spec, source: sourceOf(spec), failures: 0 }));
    this.metrics = options.metrics ? new FeedMetrics(options.metrics) : undefined;
    this.onProblem = options.onProblem ?? ((problem) => log.warn(problem.message, { feed: problem.feed, line: problem.line, code: problem.code }));
    this.reportedProblems = options.reportedProblems ?? 10;
    this.now = options.now ?? Date.now;
  }

  /** The index in use: every feed's last good data. Empty before the first read. */
  current(): FeedIndex {
    return this.index;
  }

  /** Reads every feed once (failures are reported, not thrown), then refreshes each on its period. */
  async start(): Promise<FeedRefresh[]> {
    if (this.closed) throw new Error('the feed set is closed');
    if (this.started) throw new Error('the feed set is already started');
    this.started = true;
    const first = await this.refresh();
    for (const state of this.feeds) this.schedule(state);
    return first;
  }

  /**
   * Reads every feed (or the one named) now, and resolves once the index in use has what was
   * read. A feed already being read is not read twice: its read under way is awaited. Rejects
   * only for an unknown name or a closed set; a failed read is an outcome.
   */
  async refresh(feed?: string): Promise<FeedRefresh[]> {
    if (this.closed) throw new Error('the feed set is closed');
    const states = feed === undefined ? this.feeds : [this.stateOf(feed)];
    return Promise.all(states.map((state) => this.refreshFeed(state)));
  }

  status(): FeedStatus[] {
    return this.feeds.map((state) => ({
      feed: state.spec.name,
      location: state.spec.location,
      entries: state.parsed?.entries.length ?? 0,
      loadedAt: state.loadedAt,
      checkedAt: state.checkedAt,
      failures: state.failures,
      lastError: state.lastError,
    }));
  }

  /** Stops the timers, abandons reads under way, and resolves once nothing runs any more. */
  async close(): Promise<void> {
    this.closed = true;
    for (const state of this.feeds) clearTimeout(state.timer);
    this.abort.abort();
    await Promise.all(this.feeds.map((state) => state.running));
    await this.building;
  }

  private stateOf(feed: string): FeedState {
    const state = this.feeds.find((candidate) => candidate.spec.name === feed);
    if (!state) throw new FeedConfigError([`no feed is named '${feed}' (feeds: ${this.feeds.map((f) => f.spec.name).join(', ')})`]);
    return state;
  }

  private schedule(state: FeedState): void {
    const period = state.spec.refreshMs ?? defaultRefreshMs;
    if (period === 0 || this.closed) return;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      const next = () => this.schedule(state);
      void this.refreshFeed(state).then(next, next);
    }, period);
    state.timer.unref();
  }

  private refreshFeed(state: FeedState): Promise<FeedRefresh> {
    if (state.running) return state.running;
    const running = this.readFeed(state).finally(() => {
      state.running = undefined;
    });
    state.running = running;
    return running;
  }

  /** Never rejects: a failure is an outcome. */
  private async readFeed(state: FeedState): Promise<FeedRefresh> {
    const { name } = state.spec;
    let read: FeedRead;
    try {
      read = await state.source.read(state.version, this.abort.signal);
    } catch (error) {
      return this.failed(state, 'FEED_READ_FAILED', messageOf(error));
    }
    state.checkedAt = this.now();
    if (this.closed) return this.outcome(state, 'failed', 0);
    if (!read.changed) {
      state.failures = 0;
      state.lastError = undefined;
      this.metrics?.checkedUnchanged(name);
      return this.outcome(state, 'unchanged', 0);
    }
    try {
      return await this.load(state, read.text, read.version);
    } catch (error) {
      return this.failed(state, 'FEED_READ_FAILED', `${name}: cannot load: ${messageOf(error)}`);
    }
  }

  /** Parses a new text and brings it into use; throws (with the feed's data as it was) if it cannot be indexed. */
  private async load(state: FeedState, text: string, version: FeedVersion): Promise<FeedRefresh> {
    const { name } = state.spec;
    const parsed = await runInSlices(parseFeedSteps(name, text, state.spec.format ?? 'auto'));
    if (parsed.entries.length === 0 && parsed.problemCount > 0) {
      const first = parsed.problems[0]?.message ?? '';
      return this.failed(state, 'FEED_NO_ENTRIES', `${name}: ${parsed.problemCount} problem(s) and not one entry (first: ${first}); the last good data stays in use`);
    }
    const previous = { parsed: state.parsed, version: state.version };
    state.parsed = parsed;
    state.version = version;
    this.generation++;
    try {
      await this.rebuild();
    } catch (error) {
      state.parsed = previous.parsed;
      state.version = previous.version;
      this.generation++;
      throw error;
    }
    state.loadedAt = state.checkedAt;
    state.failures = 0;
    state.lastError = undefined;
    this.metrics?.loaded(parsed);
    for (const problem of parsed.problems.slice(0, this.reportedProblems)) this.onProblem(problem);
    return this.outcome(state, 'loaded', parsed.problemCount);
  }

  /** Builds a new index from every feed's data and swaps it in; one build at a time, none when nothing changed. */
  private rebuild(): Promise<void> {
    const run = this.building.then(async () => {
      if (this.builtGeneration === this.generation) return;
      const generation = this.generation;
      const feeds = this.feeds.flatMap((state) => (state.parsed ? [state.parsed] : []));
      const index = await runInSlices(FeedIndex.buildSteps(feeds));
      this.index = index;
      this.builtGeneration = generation;
      this.metrics?.inUse(index.counts, index.size);
    });
    this.building = run.catch(() => undefined);
    return run;
  }

  private failed(state: FeedState, code: FeedProblemCode, message: string): FeedRefresh {
    state.checkedAt = this.now();
    if (this.closed) return this.outcome(state, 'failed', 0);
    state.failures++;
    state.lastError = message;
    this.metrics?.failed(state.spec.name, code);
    const failure: FeedProblem = { feed: state.spec.name, line: 0, code, message };
    this.onProblem(failure);
    return { ...this.outcome(state, 'failed', 0), failure };
  }

  private outcome(state: FeedState, outcome: FeedRefresh['outcome'], problems: number): FeedRefresh {
    return { feed: state.spec.name, outcome, entries: state.parsed?.entries.length ?? 0, problems };
  }
}
