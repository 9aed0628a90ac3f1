import type { EnrichedFlow, FlowSample } from '../../schemas/types.js';
import { addSample, type Detection } from '../detection.js';
import { alertEndsOf, isDenied, sampleOf } from '../flow-subject.js';
import type { DetectContext } from './detector.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowKeys, type WindowUnit } from './windowed-detector.js';

interface DeniedWindow {
  denied: number;
  samples: FlowSample[];
}

/** denied_spike: denied flows from a source far above what its workload is denied in a window. */
export class DeniedSpikeDetector extends WindowedDetector<DeniedWindow> {
  readonly name = 'denied_spike';

  protected keysOf(flow: EnrichedFlow, context: DetectContext): WindowKeys | undefined {
    if (!isDenied(flow)) return undefined;
    const { source } = context;
    return { key: source.entity, baseline: source.workload };
  }

  protected newState(): DeniedWindow {
    return { denied: 0, samples: [] };
  }

  protected add(state: DeniedWindow, flow: EnrichedFlow, _context: DetectContext): void {
    state.denied += flow.num_flows;
    addSample(state.samples, sampleOf(flow));
  }

  protected measure(state: DeniedWindow): number {
    return state.denied;
  }

  protected describe(unit: WindowUnit<DeniedWindow>, flow: EnrichedFlow, measured: Measured, context: DetectContext): Detection {
    const { state } = unit;
    const { source } = context;
    return {
      detector: 'denied_spike',
      identity: [source.entity],
      severity: severityOver(measured.value, measured.limit),
      windowStart: unit.window,
      time: flow.end_time,
      ends: alertEndsOf(flow),
      summary: `${source.entity} was denied ${state.denied} flows within ${this.config.windowMs / 1000} s (limit ${Math.round(measured.limit)})`,
      evidence: { ...windowEvidence(unit, measured, this.config.windowMs), denied_flows: String(state.denied) },
      count: state.denied,
      magnitude: measured.value,
      samples: state.samples,
    };
  }
}
