import type { EnrichedFlow, FlowSample } from '../../schemas/types.js';
import { addSample, type Detection } from '../detection.js';
import { alertEndsOf, endKeysOf, isDenied, sampleOf, type AlertEnds } from '../flow-subject.js';
import { severityOver, windowEvidence, WindowedDetector, type Measured, type WindowKeys, type WindowUnit } from './windowed-detector.js';

interface DeniedWindow {
  denied: number;
  ends: AlertEnds;
  samples: FlowSample[];
}

/** denied_spike: denied flows from a source far above what its workload is denied in a window. */
export class DeniedSpikeDetector extends WindowedDetector<DeniedWindow> {
  readonly name = 'denied_spike';

  protected keysOf(flow: EnrichedFlow): WindowKeys | undefined {
    if (!isDenied(flow)) return undefined;
    const source = endKeysOf(flow, 'source');
    return { key: source.entity, baseline: source.workload };
  }

  protected newState(): DeniedWindow {
    return { denied: 0, ends: {}, samples: [] };
  }

  protected add(state: DeniedWindow, flow: EnrichedFlow): void {
    if (state.denied === 0) state.ends = alertEndsOf(flow);
    state.denied += flow.num_flows;
    addSample(state.samples, sampleOf(flow));
  }

  protected measure(state: DeniedWindow): number {
    return state.denied;
  }

  protected describe(unit: WindowUnit<DeniedWindow>, flow: EnrichedFlow, measured: Measured): Detection {
    const { state } = unit;
    const source = endKeysOf(flow, 'source');
    return {
      detector: 'denied_spike',
      identity: [source.entity],
      severity: severityOver(measured.value, measured.limit),
      windowStart: unit.window,
      time: flow.end_time,
      ends: state.ends,
      summary: `${source.entity} was denied ${state.denied} flows within ${this.config.windowMs / 1000} s (limit ${Math.round(measured.limit)})`,
      evidence: { ...windowEvidence(unit, measured, this.config.windowMs), denied_flows: String(state.denied) },
      count: state.denied,
      magnitude: measured.value,
      samples: state.samples,
    };
  }
}
