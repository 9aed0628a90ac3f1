import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection } from '../detection.js';
import { addDistinct, countDistinct, newDistinct, type DistinctState } from '../distinct-counter.js';
import { alertEndsOf } from '../flow-subject.js';
import { isReplyDirection } from './reply-direction.js';
import type { DetectContext } from './detector.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowUnit } from './windowed-detector.js';

interface IpSweepWindow {
  dests: DistinctState;
  flows: number;
}

const portOf = (flow: EnrichedFlow) => `${flow.proto}/${flow.dest_port ?? '*'}`;

/**
 * ip_sweep: one source touching many destinations on one port (or by ICMP) within a window,
 * judged against its workload's baseline for that port — a Prometheus that scrapes every pod on
 * its metrics port learned that as normal.
 */
export class IpSweepDetector extends WindowedDetector<IpSweepWindow> {
  readonly name = 'ip_sweep';

  protected keyOf(flow: EnrichedFlow, context: DetectContext): string | undefined {
    if (isReplyDirection(flow)) return undefined;
    return `${context.source.entity}>${portOf(flow)}`;
  }

  protected baselineOf(flow: EnrichedFlow, context: DetectContext): string {
    return `${context.source.workload}>${portOf(flow)}`;
  }

  protected newState(): IpSweepWindow {
    return { dests: newDistinct(), flows: 0 };
  }

  protected add(state: IpSweepWindow, flow: EnrichedFlow, context: DetectContext): boolean {
    state.flows += flow.num_flows;
    // A pod destination counts as its workload: a rollout (old and new pods side by side) is not more targets.
    return addDistinct(state.dests, flow.dest_type === 'wep' ? context.dest.workload : context.dest.entity);
  }

  protected measure(state: IpSweepWindow): number {
    return countDistinct(state.dests);
  }

  protected describe(unit: WindowUnit<IpSweepWindow>, flow: EnrichedFlow, measured: Measured, context: DetectContext): Detection {
    const { state } = unit;
    const { source } = context;
    const ends = { ...alertEndsOf(flow), dest_ip: null, dest_type: null, dest_namespace: null, dest_name: null, dest_name_aggr: null, dest_labels: {}, dest_workload: null };
    return {
      detector: 'ip_sweep',
      identity: [source.entity],
      severity: severityOver(measured.value, measured.limit),
      windowStart: unit.window,
      time: flow.end_time,
      ends,
      summary: `${source.entity} touched ${measured.value} destinations on ${portOf(flow)} within ${this.config.windowMs / 1000} s`,
      evidence: {
        ...windowEvidence(unit, measured, this.config.windowMs),
        distinct_destinations: String(measured.value),
        port: portOf(flow),
        destinations: [...new Set(unit.samples.map((sample) => sample.dest_ip))].join(','),
      },
      count: state.flows,
      magnitude: measured.value,
      samples: unit.samples,
    };
  }
}
