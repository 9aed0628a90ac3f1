import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection } from '../detection.js';
import { addDistinct, countDistinct, newDistinct, someMembers, type DistinctState } from '../distinct-counter.js';
import { alertEndsOf, isDenied, isShortFlow } from '../flow-subject.js';
import { isReplyDirection } from './reply-direction.js';
import type { DetectContext } from './detector.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowUnit } from './windowed-detector.js';

interface PortScanWindow {
  ports: DistinctState;
  /** Ports touched by a denied or short flow: they count twice. */
  probes: DistinctState;
  flows: number;
}

/**
 * port_scan: one source touching many destination ports of one destination within a window.
 * The measure is distinct ports plus distinct ports probed (denied, or a flow of a few packets),
 * so a scan that policies refuse or that finds closed ports stands out twice as fast; it is
 * judged against what the source's workload did in its windows before.
 */
export class PortScanDetector extends WindowedDetector<PortScanWindow> {
  readonly name = 'port_scan';

  protected keyOf(flow: EnrichedFlow, context: DetectContext): string | undefined {
    if (flow.dest_port === null || flow.dest_port === undefined || isReplyDirection(flow)) return undefined;
    return `${context.source.entity}>${context.dest.entity}`;
  }

  protected baselineOf(_flow: EnrichedFlow, context: DetectContext): string {
    return context.source.workload;
  }

  protected newState(): PortScanWindow {
    return { ports: newDistinct(), probes: newDistinct(), flows: 0 };
  }

  protected add(state: PortScanWindow, flow: EnrichedFlow, _context: DetectContext): boolean {
    const port = flow.dest_port!;
    state.flows += flow.num_flows;
    const newPort = addDistinct(state.ports, port);
    const newProbe = (isDenied(flow) || isShortFlow(flow)) && addDistinct(state.probes, port);
    return newPort || newProbe;
  }

  protected measure(state: PortScanWindow): number {
    return countDistinct(state.ports) + countDistinct(state.probes);
  }

  protected describe(unit: WindowUnit<PortScanWindow>, flow: EnrichedFlow, measured: Measured, context: DetectContext): Detection {
    const { state } = unit;
    const { source } = context;
    const ports = countDistinct(state.ports);
    const ends = { ...alertEndsOf(flow), dest_port: null };
    return {
      detector: 'port_scan',
      identity: [source.entity],
      severity: severityOver(measured.value, measured.limit),
      windowStart: unit.window,
      time: flow.end_time,
      ends,
      summary: `${source.entity} touched ${ports} ports of ${context.dest.entity} within ${this.config.windowMs / 1000} s`,
      evidence: {
        ...windowEvidence(unit, measured, this.config.windowMs),
        distinct_ports: String(ports),
        probed_ports: String(countDistinct(state.probes)),
        ports: someMembers(state.ports, 20).join(','),
      },
      count: state.flows,
      magnitude: measured.value,
      samples: unit.samples,
    };
  }
}
