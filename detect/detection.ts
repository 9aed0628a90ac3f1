import type { FlowSample, Severity } from '../schemas/types.js';
import type { AlertEnds } from './flow-subject.js';

export const detectorNames = ['ioc', 'port_scan', 'ip_sweep', 'lateral_movement', 'denied_spike', 'exfiltration'] as const;
export type DetectorName = (typeof detectorNames)[number];

/** The MITRE ATT&CK technique each detector's finding points to. */
export const techniqueOf: Readonly<Record<DetectorName, string>> = {
  ioc: 'T1071', // Application Layer Protocol (command and control to a known-bad address)
  port_scan: 'T1046', // Network Service Discovery
  ip_sweep: 'T1018', // Remote System Discovery
  lateral_movement: 'T1021', // Remote Services
  denied_spike: 'T1046', // Network Service Discovery (probing that policies refuse)
  exfiltration: 'T1048', // Exfiltration Over Alternative Protocol
};

export const severities: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
export const severityRank = (severity: Severity): number => severities.indexOf(severity);

/** What a detector found, at one moment of event time. The alert book turns detections into alerts. */
export interface Detection {
  readonly detector: DetectorName;
  /** What makes two detections the same alert: the subject's entity, and for IoC the matched entry. */
  readonly identity: readonly string[];
  readonly severity: Severity;
  /** Start of the window the evidence belongs to. */
  readonly windowStart: number;
  /** Event time of the latest evidence (the end of the flow that made it). */
  readonly time: number;
  readonly ends: AlertEnds;
  readonly summary: string;
  readonly evidence: Readonly<Record<string, string>>;
  /** Flows behind the detection in its window. */
  readonly count: number;
  /** How much there is (distinct ports, new edges, bytes): an open alert is re-sent when it doubles. */
  readonly magnitude: number;
  readonly samples: readonly FlowSample[];
  readonly indicator?: string;
  readonly feed?: string;
}

/** Samples kept per window and per alert. */
export const maxSamples = 5;

export function addSample(samples: FlowSample[], sample: FlowSample): void {
  if (samples.length < maxSamples) samples.push(sample);
}
