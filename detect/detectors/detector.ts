import type { EnrichedFlow } from '../../schemas/types.js';
import type { Detection, DetectorName } from '../detection.js';
import type { FlowEndKeys } from '../flow-subject.js';

/** What every detector sees besides the flow. */
export interface DetectContext {
  /** Within the learning period: baselines learn, nothing alerts (threat feeds still do). */
  readonly learning: boolean;
  /** Windows ending at or before it are closed: a later flow of theirs counts in the current window. */
  readonly watermark: number;
  /** Who both ends are, for detection (computed once per flow). */
  readonly source: FlowEndKeys;
  readonly dest: FlowEndKeys;
}

/**
 * A detector: state per key in event time, fed one flow at a time. `observe` may return what it
 * found at once (an alert within seconds of the evidence); `closeUpTo` ends the windows the
 * watermark has passed, which is when baselines learn.
 */
export function windowFor(time: number, windowMs: number, watermark: number): number {
  const own = windowOf(time, windowMs);
  // A late flow whose window has closed counts in the window the watermark is in.
  return own + windowMs <= watermark ? windowOf(watermark + 1, windowMs) : own;
}

/** The window a time belongs to: the one its end falls in (an end on a boundary closes the earlier window). */
const windowOf = (time: number, windowMs: number): number => Math.floor((time - 1) / windowMs) * windowMs;

export interface Detector {
  readonly name: DetectorName;
  observe(flow: EnrichedFlow, context: DetectContext): Detection | undefined;
  closeUpTo(watermark: number): void;
}
