import type { EnrichedFlow, FlowSample } from '../../schemas/types.js';
import { addSample, type Detection } from '../detection.js';
import { addDistinct, countDistinct, newDistinct, someMembers, type DistinctState } from '../distinct-counter.js';
import { alertEndsOf, endKeysOf, isDenied, isShortFlow, sampleOf, type AlertEnds } from '../flow-subject.js';
import { isReplyDirection } from './reply-direction.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowKeys, type WindowUnit } from './windowed-detector.js';

interface PortScanWindow {
  ports: DistinctState;
  /** Ports touched by a denied or short flow: they count twice. */
  probes: DistinctState;
  flows: number;
  ends: AlertEnds;
  samples: FlowSample[];
}

/**
 * port_scan: one source touching many destination ports of one destination within a window.
 * The measure is distinct ports plus distinct ports probed (denied, or a flow of a few packets),
 * so a scan that policies refuse or that finds closed ports stands out twice as fast; it is
 * judged against what the source's workload did in its windows before.
 */
export class PortScanDetector extends WindowedDetector<PortScanWindow> {
  readonly name = 'port_scan';

  protected keysOf(flow: EnrichedFlow): WindowKeys | undefined {
    if (flow.dest_port === null || flow.dest_port === undefined || isReplyDirection(flow)) return undefined;
    const source = endKeysOf(flow, 'source');
    return { key: `${source.entity}>${endKeysOf(flow, 'dest').entity}`, baseline: source.workload };
  }

  protected newState(): PortScanWindow {
    return { ports: newDistinct(), probes: newDistinct(), flows: 0, ends: {}, samples: [] };
  }

  protected add(state: PortScanWindow, flow: EnrichedFlow): void {
    const port = flow.dest_port!;
    if (state.flows === 0) state.ends = alertEndsOf(flow);
    state.flows += flow.num_flows;
    if (addDistinct(state.ports, port)) addSample(state.samples, sampleOf(flow));
    if (isDenied(flow) || isShortFlow(flow)) addDistinct(state.probes, port);
  }

  protected measure(state: PortScanWindow): number {
    return countDistinct(state.ports) + countDistinct(state.probes);
  }

  protected describe(unit: WindowUnit<PortScanWindow>, flow: EnrichedFlow, measured: Measured): Detection {
    const { state } = unit;
    const source = endKeysOf(flow, 'source');
    const ports = countDistinct(state.ports);
    const ends = { ...state.ends, dest_port: null };
    return {
      detector: 'port_scan',
      identity: [source.entity],
      severity: severityOver(measured.value, measured.limit),
      windowStart: unit.window,
      time: flow.end_time,
      ends,
      summary: `${source.entity} touched ${ports} ports of ${endKeysOf(flow, 'dest').entity} within ${this.config.windowMs / 1000} s`,
      evidence: {
        ...windowEvidence(unit, measured, this.config.windowMs),
        distinct_ports: String(ports),
        probed_ports: String(countDistinct(state.probes)),
        ports: someMembers(state.ports, 20).join(','),
      },
      count: state.flows,
      magnitude: measured.value,
      samples: state.samples,
    };
  }
}
