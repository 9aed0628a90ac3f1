import type { RawFlow } from '../../schemas/types.js';
import { problemOf } from '../problems.js';
import type { FlowSource, ParseProblem, SourceBatch } from '../source.js';
import { defaultVpcFormat, parseVpcLine } from '../vpc-flow-log.js';
import { demoMinute, minuteMs, type DemoTrafficOptions } from './demo-cluster.js';

export interface DemoSourcePosition {
  readonly minute: number;
  readonly slice: number;
}

export interface DemoSourceOptions extends DemoTrafficOptions {
  /** Minutes of event time to play; undefined plays on until closed, in real time after these. */
  readonly minutes?: number;
  /** Minutes played quickly, each in `msPerMinute` of wall time; the rest (following) in real time. */
  readonly fastMinutes: number;
  readonly msPerMinute: number;
  /** Batches per minute: how smoothly the traffic arrives. Default 6 (ten seconds of event time each). */
  readonly slicesPerMinute?: number;
  /** Wall clock and sleep, for tests. */
  readonly now?: () => number;
}

/**
 * The demo cluster's traffic as a flow source: its VPC Flow Log lines go through the real VPC
 * parser, a slice of event time at a time, paced on the wall clock — the first `fastMinutes`
 * fast (the detectors learn the cluster in seconds), then in real time. Nothing to resume:
 * commits only count.
 */
export class DemoSource implements FlowSource<DemoSourcePosition> {
  readonly name = 'demo';
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly counts = { lines: 0, flows: 0, problems: 0, committedMinute: -1 };

  constructor(private readonly options: DemoSourceOptions) {}

  async *batches(): AsyncGenerator<SourceBatch<DemoSourcePosition>> {
    const { minutes, fastMinutes, msPerMinute } = this.options;
    const slices = Math.max(1, this.options.slicesPerMinute ?? 6);
    const now = this.options.now ?? Date.now;
    const began = now();
    for (let minute = 0; minutes === undefined || minute < minutes; minute++) {
      const lines = demoMinute(this.options, minute);
      const minuteStart = this.options.start + minute * minuteMs;
      for (let slice = 0; slice < slices; slice++) {
        const sliceEnd = minuteStart + ((slice + 1) * minuteMs) / slices;
        // Fast minutes at their pace; later ones once their slice of event time is over.
        const due = minute < fastMinutes ? began + (minute + (slice + 1) / slices) * msPerMinute : sliceEnd;
        await this.sleepUntil(due, now);
        if (this.closed) return;
        const flows: RawFlow[] = [];
        const problems: ParseProblem[] = [];
        const sliceStart = minuteStart + (slice * minuteMs) / slices;
        for (const line of lines) {
          const at = Number(line.split(' ', 12)[10]) * 1000;
          if (at < sliceStart || at >= sliceEnd) continue;
          this.counts.lines++;
          try {
            const result = parseVpcLine(defaultVpcFormat, line);
            if (result.kind === 'flow') flows.push(result.flow);
          } catch (error) {
            this.counts.problems++;
            problems.push(problemOf({ source: 'demo', line: this.counts.lines }, Buffer.from(line), error));
          }
        }
        this.counts.flows += flows.length;
        yield { flows, problems, position: { minute, slice } };
      }
    }
  }

  private async sleepUntil(due: number, now: () => number): Promise<void> {
    const wait = due - now();
    if (wait <= 0 || this.closed) return;
    await new Promise<void>((wake) => {
      const timer = setTimeout(wake, wait);
      this.wake = () => {
        clearTimeout(timer);
        wake();
      };
    });
    this.wake = undefined;
  }

  async commit(position: DemoSourcePosition): Promise<void> {
    this.counts.committedMinute = position.minute;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  countsByName(): Readonly<Record<string, number>> {
    return { ...this.counts };
  }
}
