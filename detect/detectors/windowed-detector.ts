import type { EnrichedFlow, FlowSample } from '../../schemas/types.js';
import { learn, limitOf, newBaseline, type BaselineLimits, type BaselineStat } from '../baseline.js';
import { addSample, type Detection, type DetectorName } from '../detection.js';
import { sampleOf } from '../flow-subject.js';
import type { DetectorState, StateTable } from '../detector-state.js';
import { windowFor, type DetectContext, type Detector } from './detector.js';

export interface WindowedDetectorConfig extends BaselineLimits {
  /** Window length, milliseconds (tumbling, aligned to the epoch). */
  readonly windowMs: number;
  /** A workload's baseline is forgotten after this long without activity, milliseconds. */
  readonly baselineTtlMs: number;
}

/** One key's current window. */
export interface WindowUnit<S> {
  window: number;
  baseline: string;
  /** The limit of this window, from the baseline as it was when the window opened. */
  limit: number;
  /** The window alerted: it does not teach the baseline (an attack must not become normal). */
  alerted: boolean;
  state: S;
  /** Flows that added evidence once the measure had reached half the limit: what an alert shows. */
  samples: FlowSample[];
}

export interface BaselineUnit extends BaselineStat {
  /** Event time it last learned. */
  last: number;
}


export interface Measured {
  readonly value: number;
  readonly limit: number;
  readonly baseline: BaselineStat | undefined;
}


/**
 * The shape of the window detectors (port_scan, ip_sweep, denied_spike, exfiltration): per key,
 * a measure over a tumbling event-time window, judged against the baseline of the key's stable
 * workload. A flow arriving after its window closed counts in the key's current window.
 */
export abstract class WindowedDetector<S> implements Detector {
  abstract readonly name: DetectorName;
  protected readonly windows: StateTable<WindowUnit<S>>;
  protected readonly baselines: StateTable<BaselineUnit>;

  constructor(
    state: DetectorState,
    table: string,
    protected readonly config: WindowedDetectorConfig,
  ) {
    this.windows = state.table<WindowUnit<S>>(`${table}.window`, (unit) => unit.window);
    this.baselines = state.table<BaselineUnit>(`${table}.baseline`, (unit) => unit.last);
  }

  /**
   * Whose window a flow counts in (a source pod, a source pod and one destination, ...), or
   * undefined when the flow says nothing to this detector.
   */
  protected abstract keyOf(flow: EnrichedFlow, context: DetectContext): string | undefined;
  /** Whose baseline a new window teaches and is judged by (a stable workload, and a port). */
  protected abstract baselineOf(flow: EnrichedFlow, context: DetectContext): string;
  protected abstract newState(): S;
  /** Counts a flow in; true when it added evidence (a new port, a new peer, denied flows, bytes). */
  protected abstract add(state: S, flow: EnrichedFlow, context: DetectContext): boolean;
  protected abstract measure(state: S): number;
  protected abstract describe(unit: WindowUnit<S>, flow: EnrichedFlow, measured: Measured, context: DetectContext): Detection;

  observe(flow: EnrichedFlow, context: DetectContext): Detection | undefined {
    const key = this.keyOf(flow, context);
    if (key === undefined) return undefined;
    const window = windowFor(flow.end_time, this.config.windowMs, context.watermark);
    let unit = this.windows.get(key);
    if (unit && window > unit.window) {
      this.close(unit);
      unit = undefined;
    }
    if (unit) this.windows.changedInPlace(key);
    else {
      const baseline = this.baselineOf(flow, context);
      const limit = limitOf(this.baselines.get(baseline), this.config);
      unit = this.windows.touch(key, { window, baseline, limit, alerted: false, state: this.newState(), samples: [] });
    }
    const added = this.add(unit.state, flow, context);
    if (context.learning) return undefined;
    const value = this.measure(unit.state);
    // Samples only once the window looks interesting: ordinary windows stay small in the changelog.
    if (added && value >= unit.limit / 2) addSample(unit.samples, sampleOf(flow));
    if (value < unit.limit) return undefined;
    unit.alerted = true;
    return this.describe(unit, flow, { value, limit: unit.limit, baseline: this.baselines.get(unit.baseline) }, context);
  }

  closeUpTo(watermark: number): void {
    for (const [, unit] of this.windows.takeDue((unit) => unit.window + this.config.windowMs <= watermark)) this.close(unit);
    this.baselines.takeDue((baseline) => baseline.last + this.config.baselineTtlMs <= watermark);
  }

  /** Active keys (for memory accounting). */
  get activeKeys(): number {
    return this.windows.size;
  }

  private close(unit: WindowUnit<S>): void {
    if (unit.alerted) return;
    const baseline = this.baselines.get(unit.baseline) ?? { ...newBaseline(), last: 0 };
    learn(baseline, this.measure(unit.state));
    baseline.last = Math.max(baseline.last, unit.window + this.config.windowMs);
    this.baselines.touch(unit.baseline, baseline);
  }
}

/** Severity of a window measure: medium at the limit, high from `highFactor` times it. */
export function severityOver(value: number, limit: number, highFactor = 4): 'medium' | 'high' {
  return value >= highFactor * limit ? 'high' : 'medium';
}

export const windowEvidence = (unit: WindowUnit<unknown>, measured: Measured, windowMs: number): Record<string, string> => ({
  window_start: String(unit.window),
  window_ms: String(windowMs),
  limit: String(Math.round(measured.limit)),
  baseline_mean: measured.baseline ? measured.baseline.mean.toFixed(1) : 'none',
  baseline_windows: String(measured.baseline?.n ?? 0),
});
