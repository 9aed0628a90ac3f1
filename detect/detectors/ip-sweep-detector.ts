import type { EnrichedFlow, FlowSample } from '../../schemas/types.js';
import { addSample, type Detection } from '../detection.js';
import { addDistinct, countDistinct, newDistinct, someMembers, type DistinctState } from '../distinct-counter.js';
import { alertEndsOf, sampleOf } from '../flow-subject.js';
import { isReplyDirection } from './reply-direction.js';
import type { DetectContext } from './detector.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowKeys, type WindowUnit } from './windowed-detector.js';

interface IpSweepWindow {
  dests: DistinctState;
  flows: number;
  samples: FlowSample[];
}

const portOf = (flow: EnrichedFlow) => `${flow.proto}/${flow.dest_port ?? '*'}`;

/**
 * ip_sweep: one source touching many destinations on one port (or by ICMP) within a window,
 * judged against its workload's baseline for that port — a Prometheus that scrapes every pod on
 * its metrics port learned that as normal.
 */
export class IpSweepDetector extends WindowedDetector<IpSweepWindow> {
  readonly name = 'ip_sweep';

  protected keysOf(flow: EnrichedFlow, context: DetectContext): WindowKeys | undefined {
    if (isReplyDirection(flow)) return undefined;
    const { source } = context;
    const port = portOf(flow);
    return { key: `${source.entity}>${port}`, baseline: `${source.workload}>${port}` };
  }

  protected newState(): IpSweepWindow {
    return { dests: newDistinct(), flows: 0, samples: [] };
  }

  protected add(state: IpSweepWindow, flow: EnrichedFlow, context: DetectContext): void {
    state.flows += flow.num_flows;
    // Samples from the second destination on: a source that uses one peer on a port keeps none.
    if (addDistinct(state.dests, context.dest.entity) && countDistinct(state.dests) >= 2) addSample(state.samples, sampleOf(flow));
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
        destinations: someMembers(state.dests, 20).join(','),
      },
      count: state.flows,
      magnitude: measured.value,
      samples: state.samples,
    };
  }
}
