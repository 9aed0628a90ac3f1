import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection } from '../detection.js';
import { alertEndsOf, isDenied } from '../flow-subject.js';
import type { DetectContext } from './detector.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowUnit } from './windowed-detector.js';

interface DeniedWindow {
  denied: number;
}

/** denied_spike: denied flows from a source far above what its workload is denied in a window. */
export class DeniedSpikeDetector extends WindowedDetector<DeniedWindow> {
  readonly name = 'denied_spike';

  protected keyOf(flow: EnrichedFlow, context: DetectContext): string | undefined {
    if (!isDenied(flow)) return undefined;
    return context.source.entity;
  }

  protected baselineOf(_flow: EnrichedFlow, context: DetectContext): string {
    return context.source.workload;
  }

  protected newState(): DeniedWindow {
    return { denied: 0 };
  }

  protected add(state: DeniedWindow, flow: EnrichedFlow, _context: DetectContext): boolean {
    state.denied += flow.num_flows;
    return true;
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
      samples: unit.samples,
    };
  }
}
