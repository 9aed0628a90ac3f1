/**
 * What drives the conntrack source's polls: a sequence of interval ends (epoch ms). In
 * production a timer; in tests and replays a ticker advanced by hand, so a test decides exactly
 * which traffic falls between two polls.
 */

export interface Ticker extends AsyncIterable<number> {
  /** Ends the sequence: a pending or later `next()` is done. */
  stop(): void;
}

/** A ticker whose values are pushed; buffered until read. */
export class ManualTicker implements Ticker {
  private readonly queued: number[] = [];
  private waiting: ((result: IteratorResult<number>) => void) | null = null;
  private stopped = false;

  /** Ends the current interval at `at` (default: now). */
  tick(at: number = Date.now()): void {
    if (this.stopped) return;
    if (this.waiting) {
      const resolveNext = this.waiting;
      this.waiting = null;
      resolveNext({ value: at, done: false });
    } else {
      this.queued.push(at);
    }
  }

  stop(): void {
    this.stopped = true;
    this.queued.length = 0;
    const resolveNext = this.waiting;
    this.waiting = null;
    resolveNext?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<number> {
    return {
      next: () => {
        if (this.queued.length > 0) return Promise.resolve({ value: this.queued.shift()!, done: false });
        if (this.stopped) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolveNext) => (this.waiting = resolveNext));
      },
    };
  }
}

/** Ticks every `intervalMs` of wall-clock time, at multiples of the interval (so nodes flush together). */
export class IntervalTicker implements Ticker {
  private readonly inner = new ManualTicker();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(intervalMs >= 10)) throw new RangeError('intervalMs must be at least 10');
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inner.stop();
  }

  [Symbol.asyncIterator](): AsyncIterator<number> {
    return this.inner[Symbol.asyncIterator]();
  }

  private schedule(): void {
    const t = this.now();
    const next = Math.floor(t / this.intervalMs) * this.intervalMs + this.intervalMs;
    this.timer = setTimeout(() => {
      this.inner.tick(next);
      this.schedule();
    }, next - t);
  }
}
