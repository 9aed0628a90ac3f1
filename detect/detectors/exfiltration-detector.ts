import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection } from '../detection.js';
import { addDistinct, countDistinct, newDistinct, type DistinctState } from '../distinct-counter.js';
import { alertEndsOf, isPublicDest } from '../flow-subject.js';
import type { DetectContext } from './detector.js';
import { windowEvidence, WindowedDetector, type Measured, type WindowedDetectorConfig, type WindowUnit } from './windowed-detector.js';
import type { DetectorState } from '../detector-state.js';

interface ExfiltrationWindow {
  bytes: number;
  flows: number;
  dests: DistinctState;
}

/**
 * exfiltration: bytes a workload sends to public networks within a window, far above its
 * baseline. Counted from the sender's report only, so a flow seen by both ends counts once.
 * Named networks listed as internal (a peered VPC, say) are not public.
 */
export class ExfiltrationDetector extends WindowedDetector<ExfiltrationWindow> {
  readonly name = 'exfiltration';

  constructor(
    state: DetectorState,
    table: string,
    config: WindowedDetectorConfig,
    private readonly internalNetworks: ReadonlySet<string>,
  ) {
    super(state, table, config);
  }

  protected keyOf(flow: EnrichedFlow, context: DetectContext): string | undefined {
    if (flow.reporter !== 'src' || flow.bytes_out === 0 || !isPublicDest(flow, this.internalNetworks)) return undefined;
    return context.source.entity;
  }

  protected baselineOf(_flow: EnrichedFlow, context: DetectContext): string {
    return context.source.workload;
  }

  protected newState(): ExfiltrationWindow {
    return { bytes: 0, flows: 0, dests: newDistinct() };
  }

  protected add(state: ExfiltrationWindow, flow: EnrichedFlow, _context: DetectContext): boolean {
    state.bytes += flow.bytes_out;
    state.flows += flow.num_flows;
    addDistinct(state.dests, flow.dest_ip ?? flow.dest_name_aggr);
    return true;
  }

  protected measure(state: ExfiltrationWindow): number {
    return state.bytes;
  }

  protected describe(unit: WindowUnit<ExfiltrationWindow>, flow: EnrichedFlow, measured: Measured, context: DetectContext): Detection {
    const { state } = unit;
    const { source } = context;
    return {
      detector: 'exfiltration',
      identity: [source.entity],
      severity: measured.value >= 4 * measured.limit ? 'critical' : 'high',
      windowStart: unit.window,
      time: flow.end_time,
      ends: alertEndsOf(flow),
      summary: `${source.entity} sent ${state.bytes} bytes to ${countDistinct(state.dests)} public destinations within ${this.config.windowMs / 1000} s (limit ${Math.round(measured.limit)})`,
      evidence: {
        ...windowEvidence(unit, measured, this.config.windowMs),
        bytes_out: String(state.bytes),
        destinations: [...new Set(unit.samples.map((sample) => sample.dest_ip))].join(','),
      },
      count: state.flows,
      magnitude: measured.value,
      samples: unit.samples,
    };
  }
}
