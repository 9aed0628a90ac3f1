import type { Alert, EnrichedFlow } from '../schemas/types.js';
import { AlertBook, type OpenAlert } from './alert-book.js';
import { detectorNames, type DetectorName } from './detection.js';
import { DetectorState, type StateChange } from './detector-state.js';
import type { Detector } from './detectors/detector.js';
import { DeniedSpikeDetector } from './detectors/denied-spike-detector.js';
import { ExfiltrationDetector } from './detectors/exfiltration-detector.js';
import { IocDetector, type FeedMatcher } from './detectors/ioc-detector.js';
import { IpSweepDetector } from './detectors/ip-sweep-detector.js';
import { defaultSensitivePorts, LateralMovementDetector, type LateralMovementConfig } from './detectors/lateral-movement-detector.js';
import { PortScanDetector } from './detectors/port-scan-detector.js';
import type { WindowedDetectorConfig } from './detectors/windowed-detector.js';
import type { BaselineLimits } from './baseline.js';
import { endKeysOf } from './flow-subject.js';

const minute = 60_000;
const advanceEveryMs = 1_000;
const hour = 60 * minute;
const day = 24 * hour;

export interface DetectOptions {
  /** Detectors that run (default: all). */
  readonly detectors?: readonly DetectorName[];
  /** Window of the window detectors, milliseconds. Default 60 s. */
  readonly windowMs?: number;
  /** How far behind the latest flow end a window may still take flows before it closes, milliseconds. Default 30 s. */
  readonly allowedLatenessMs?: number;
  /** Event time from the first flow during which baselines only learn, milliseconds. Default one hour. */
  readonly learnMs?: number;
  /** Event time without new evidence after which an open alert resolves, milliseconds. Default 3 windows. */
  readonly resolveAfterMs?: number;
  /** Baselines and edges of a workload are forgotten after this long without activity, milliseconds. Default 7 days. */
  readonly baselineTtlMs?: number;
  readonly portScan?: Partial<BaselineLimits>;
  readonly ipSweep?: Partial<BaselineLimits>;
  readonly deniedSpike?: Partial<BaselineLimits>;
  readonly exfiltration?: Partial<BaselineLimits>;
  readonly lateralMovement?: Partial<Omit<LateralMovementConfig, 'sensitivePorts'>> & { readonly sensitivePorts?: readonly number[] };
  /** Named networks (enrich's network sets) that are internal, not public, for exfiltration. */
  readonly internalNetworks?: readonly string[];
  /** Bytes to a listed address in one window from which an IoC alert is critical. Default 1 MiB. */
  readonly iocCriticalBytes?: number;
}

export const defaultLimits = {
  portScan: { minimum: 30, ratio: 2, sigmas: 4 },
  ipSweep: { minimum: 20, ratio: 1.5, sigmas: 4 },
  deniedSpike: { minimum: 30, ratio: 3, sigmas: 5 },
  exfiltration: { minimum: 64 * 1024 * 1024, ratio: 5, sigmas: 6 },
} as const satisfies Record<string, BaselineLimits>;

export interface DetectStats {
  readonly flows: number;
  /** Flows whose end was already behind the watermark: counted in their key's current window. */
  readonly late: number;
  readonly learning: boolean;
  readonly watermark: number;
  readonly openAlerts: number;
  readonly stateUnits: number;
  readonly alerts: Readonly<Record<DetectorName, number>>;
}

/** The clock of event time: when learning began, and the latest flow end. */
interface ClockUnit {
  first: number;
  latest: number;
  /** Watermark from which windows are closed and alerts resolved again (every second of event time). */
  nextAdvance: number;
}

/**
 * The detect stage's pure core: every detector over a stream of enriched flows in event time,
 * and the alert book that turns their findings into alerts. The state is explicit (snapshot by
 * changes, restore), time is the flows' own, and the same input gives the same alerts.
 */
export class DetectCore {
  readonly state = new DetectorState();
  private readonly detectors: Detector[];
  private readonly book: AlertBook;
  private readonly clock;
  private readonly learnMs: number;
  private readonly latenessMs: number;
  private flows = 0;
  private late = 0;
  private readonly alertCounts = Object.fromEntries(detectorNames.map((name) => [name, 0])) as Record<DetectorName, number>;

  constructor(options: DetectOptions = {}, feeds: () => FeedMatcher | undefined = () => undefined) {
    const windowMs = options.windowMs ?? minute;
    const baselineTtlMs = options.baselineTtlMs ?? 7 * day;
    this.learnMs = options.learnMs ?? hour;
    this.latenessMs = options.allowedLatenessMs ?? 30_000;
    this.clock = this.state.table<ClockUnit>('clock');
    this.book = new AlertBook(this.state.table<OpenAlert>('alerts', (open) => open.lastSeen), { resolveAfterMs: options.resolveAfterMs ?? 3 * windowMs });
    const windowed = (limits: BaselineLimits, given: Partial<BaselineLimits> | undefined): WindowedDetectorConfig => ({ ...limits, ...given, windowMs, baselineTtlMs });
    const lateral = options.lateralMovement ?? {};
    const enabled = new Set(options.detectors ?? detectorNames);
    const all: Detector[] = [
      new IocDetector(this.state, feeds, { windowMs, criticalBytes: options.iocCriticalBytes ?? 1024 * 1024 }),
      new PortScanDetector(this.state, 'port_scan', windowed(defaultLimits.portScan, options.portScan)),
      new IpSweepDetector(this.state, 'ip_sweep', windowed(defaultLimits.ipSweep, options.ipSweep)),
      new LateralMovementDetector(this.state, {
        sensitivePorts: new Set(lateral.sensitivePorts ?? defaultSensitivePorts),
        sharedServiceSources: lateral.sharedServiceSources ?? 3,
        fanOutDestinations: lateral.fanOutDestinations ?? 5,
        edgeTtlMs: lateral.edgeTtlMs ?? baselineTtlMs,
        maxEdgesPerWorkload: lateral.maxEdgesPerWorkload ?? 2_000,
        episodeMs: lateral.episodeMs ?? hour,
      }),
      new DeniedSpikeDetector(this.state, 'denied_spike', windowed(defaultLimits.deniedSpike, options.deniedSpike)),
      new ExfiltrationDetector(this.state, 'exfiltration', windowed(defaultLimits.exfiltration, options.exfiltration), new Set(options.internalNetworks ?? [])),
    ];
    this.detectors = all.filter((detector) => enabled.has(detector.name));
  }

  /** The latest flow end seen minus the allowed lateness: windows before it are closed. */
  get watermark(): number {
    const clock = this.clock.get('time');
    return clock ? clock.latest - this.latenessMs : Number.NEGATIVE_INFINITY;
  }

  /**
   * Runs every detector over flows (in the order given), then closes the windows the watermark
   * passed and resolves quiet alerts. Returns the alert records to send, in order.
   */
  process(flows: readonly EnrichedFlow[]): Alert[] {
    const alerts: Alert[] = [];
    if (flows.length === 0) return alerts;
    const clock = this.clock.get('time') ?? { first: flows[0]!.end_time, latest: Number.NEGATIVE_INFINITY, nextAdvance: Number.NEGATIVE_INFINITY };
    for (const flow of flows) {
      this.flows++;
      if (flow.end_time > clock.latest) {
        clock.latest = flow.end_time;
        // Windows close and quiet alerts resolve as event time moves, before the next evidence
        // is judged: the outcome does not depend on how flows were batched.
        if (clock.latest - this.latenessMs >= clock.nextAdvance) this.advance(clock, alerts);
      } else if (flow.end_time < clock.latest - this.latenessMs) {
        this.late++;
      }
      const context = {
        // Judged by the clock, not the flow: a late flow after the learning period is judged.
        learning: clock.latest < clock.first + this.learnMs,
        watermark: clock.latest - this.latenessMs,
        source: endKeysOf(flow, 'source'),
        dest: endKeysOf(flow, 'dest'),
      };
      for (const detector of this.detectors) {
        const detection = detector.observe(flow, context);
        if (!detection) continue;
        for (const alert of this.book.observe(detection)) {
          alerts.push(alert);
          if (alert.revision === 0) this.alertCounts[detection.detector]++;
        }
      }
    }
    this.advance(clock, alerts);
    this.clock.put('time', clock);
    return alerts;
  }

  /** Closes the windows before the watermark (baselines learn) and resolves the alerts quiet since. */
  private advance(clock: ClockUnit, alerts: Alert[]): void {
    const watermark = clock.latest - this.latenessMs;
    for (const detector of this.detectors) detector.closeUpTo(watermark);
    alerts.push(...this.book.resolveUpTo(watermark));
    clock.nextAdvance = watermark + advanceEveryMs;
  }

  /** Changes of state since the last call, for the changelog. */
  takeChanges(): StateChange[] {
    return this.state.takeChanges();
  }

  restore(changes: Iterable<StateChange>): void {
    this.state.restore(changes);
  }

  get stats(): DetectStats {
    const clock = this.clock.get('time');
    return {
      flows: this.flows,
      late: this.late,
      learning: !clock || clock.latest < clock.first + this.learnMs,
      watermark: this.watermark,
      openAlerts: this.book.openCount,
      stateUnits: this.state.size,
      alerts: { ...this.alertCounts },
    };
  }
}
