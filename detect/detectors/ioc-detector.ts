import type { EnrichedFlow, FlowSample } from '../../schemas/types.js';
import { addSample, type Detection } from '../detection.js';
import type { DetectorState, StateTable } from '../detector-state.js';
import { alertEndsOf, sampleOf, type FlowEndKeys, type Side } from '../flow-subject.js';
import { windowFor, type DetectContext, type Detector } from './detector.js';

/** A threat-feed entry that matched an address. */
export interface FeedMatch {
  readonly feed: string;
  /** The entry as the feed lists it (canonical): `203.0.113.0/24`, a single address bare (`198.51.100.7`). */
  readonly entry: string;
  readonly note?: string;
}

/** What the IoC detector asks of the threat feeds: the current index, swapped in on refresh. */
export interface FeedMatcher {
  match(ip: string): FeedMatch | undefined;
}

export interface IocConfig {
  readonly windowMs: number;
  /** Bytes sent to a listed address in one window from which the alert is critical. */
  readonly criticalBytes: number;
}

interface IocWindow {
  window: number;
  flows: number;
  bytesOut: number;
  samples: FlowSample[];
}

/**
 * ioc: either end of a flow listed by a threat feed. The subject is the other end (the workload
 * that called out, or was called); the alert names the feed and the entry that matched. An
 * allowed flow is high (critical once it carried `criticalBytes` out in a window), a denied one
 * medium. Feeds need no learning: this detector alerts from the first flow.
 */
export class IocDetector implements Detector {
  readonly name = 'ioc';
  private readonly windows: StateTable<IocWindow>;

  constructor(
    state: DetectorState,
    private readonly feeds: () => FeedMatcher | undefined,
    private readonly config: IocConfig,
  ) {
    this.windows = state.table<IocWindow>('ioc.window', (unit) => unit.window);
  }

  observe(flow: EnrichedFlow, context: DetectContext): Detection | undefined {
    const feeds = this.feeds();
    if (!feeds) return undefined;
    const dest = flow.dest_ip ? feeds.match(flow.dest_ip) : undefined;
    if (dest) return this.detect(flow, 'dest', dest, context.source, context.watermark);
    const source = flow.source_ip ? feeds.match(flow.source_ip) : undefined;
    return source ? this.detect(flow, 'source', source, context.dest, context.watermark) : undefined;
  }

  private detect(flow: EnrichedFlow, listed: Side, match: FeedMatch, subject: FlowEndKeys, watermark: number): Detection {
    const address = (listed === 'dest' ? flow.dest_ip : flow.source_ip)!;
    const key = `${subject.entity}|${match.feed}|${match.entry}`;
    const window = windowFor(flow.end_time, this.config.windowMs, watermark);
    let unit = this.windows.get(key);
    if (!unit || window > unit.window) this.windows.touch(key, (unit = { window, flows: 0, bytesOut: 0, samples: [] }));
    else this.windows.changedInPlace(key);
    unit.flows += flow.num_flows;
    if (flow.reporter === 'src') unit.bytesOut += listed === 'dest' ? flow.bytes_out : flow.bytes_in;
    addSample(unit.samples, sampleOf(flow));
    const allowed = flow.action === 'allow';
    const severity = !allowed ? 'medium' : unit.bytesOut >= this.config.criticalBytes ? 'critical' : 'high';
    const direction = listed === 'dest' ? `${subject.entity} connected to ${address}` : `${address} connected to ${subject.entity}`;
    return {
      detector: 'ioc',
      identity: [subject.entity, match.feed, match.entry],
      severity,
      windowStart: unit.window,
      time: flow.end_time,
      ends: alertEndsOf(flow),
      summary: `${direction}${flow.dest_port ? ` port ${flow.dest_port}` : ''}${allowed ? '' : ' (denied)'}, listed by ${match.feed} (${match.entry})`,
      evidence: {
        matched_end: listed,
        subject_end: listed === 'dest' ? 'source' : 'dest',
        address,
        action: flow.action,
        bytes_to_listed: String(unit.bytesOut),
        ...(match.note ? { note: match.note } : {}),
      },
      count: unit.flows,
      // Re-sent when it becomes critical, not as calls add up: each call is the same finding.
      magnitude: 1,
      samples: unit.samples,
      indicator: match.entry,
      feed: match.feed,
    };
  }

  closeUpTo(watermark: number): void {
    this.windows.takeDue((unit) => unit.window + this.config.windowMs <= watermark);
  }
}
