import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection, DetectorName } from '../detection.js';
import type { FlowEndKeys } from '../flow-subject.js';

/** What every detector sees besides the flow. */
export interface DetectContext {
  /** Within the learning period: baselines learn, nothing alerts (threat feeds still do). */
  readonly learning: boolean;
  /** Who both ends are, for detection (computed once per flow). */
  readonly source: FlowEndKeys;
  readonly dest: FlowEndKeys;
}

/**
 * A detector: state per key in event time, fed one flow at a time. `observe` may return what it
 * found at once (an alert within seconds of the evidence); `closeUpTo` ends the windows the
 * watermark has passed, which is when baselines learn.
 */
export interface Detector {
  readonly name: DetectorName;
  observe(flow: EnrichedFlow, context: DetectContext): Detection | undefined;
  closeUpTo(watermark: number): void;
}
