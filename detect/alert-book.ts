import { createHash } from 'node:crypto';
import type { Alert } from '../schemas/types.js';
import { maxSamples, severityRank, techniqueOf, type Detection } from './detection.js';
import type { StateTable } from './detector-state.js';

/** An open alert: the last record sent, and what has changed since. */
export interface OpenAlert {
  alert: Alert;
  /** Event time of the latest evidence. */
  lastSeen: number;
  /** Magnitude when the alert was last sent, and now. */
  sentMagnitude: number;
  magnitude: number;
  /** Flows of earlier windows, and the window the current count belongs to. */
  countBefore: number;
  window: number;
  windowCount: number;
}

export interface AlertBookOptions {
  /** How long without new evidence (event time) before an open alert is resolved. */
  readonly resolveAfterMs: number;
}

const resolvedOf = (open: OpenAlert): Alert => ({ ...open.alert, status: 'resolved', revision: (open.alert.revision ?? 0) + 1 });

function fingerprintOf(detection: Pick<Detection, 'detector' | 'identity'>): string {
  const digest = createHash('sha256').update([detection.detector, ...detection.identity].join('\u0000')).digest('hex');
  return `${detection.detector}:${digest.slice(0, 16)}`;
}

/**
 * One open alert per fingerprint. The first detection opens it (revision 0); later ones update
 * it in place and re-send it only when it matters — severity rose, or the evidence at least
 * doubled — so a running scan is one alert, not one per flow. It resolves once no evidence came
 * for `resolveAfterMs` of event time: a last revision with status `resolved`. A new detection
 * after that opens a new episode with a new `alert_id`.
 */
export class AlertBook {
  constructor(
    private readonly table: StateTable<OpenAlert>,
    private readonly options: AlertBookOptions,
  ) {}

  get openCount(): number {
    return this.table.size;
  }

  /**
   * Records a detection; returns the alert records to send: none, the opening or an update, or —
   * when the open alert had been quiet for `resolveAfterMs` — its resolution and a new episode.
   */
  observe(detection: Detection): Alert[] {
    const fingerprint = fingerprintOf(detection);
    const open = this.table.get(fingerprint);
    if (open && detection.time - open.lastSeen >= this.options.resolveAfterMs) {
      this.table.delete(fingerprint);
      return [resolvedOf(open), ...this.observe(detection)];
    }
    if (!open) {
      const alert = this.build(fingerprint, detection);
      this.table.touch(fingerprint, {
        alert,
        lastSeen: detection.time,
        sentMagnitude: detection.magnitude,
        magnitude: detection.magnitude,
        countBefore: 0,
        window: detection.windowStart,
        windowCount: detection.count,
      });
      return [alert];
    }
    if (detection.windowStart > open.window) {
      open.countBefore += open.windowCount;
      open.window = detection.windowStart;
      open.windowCount = 0;
    }
    open.windowCount = Math.max(open.windowCount, detection.count);
    open.lastSeen = Math.max(open.lastSeen, detection.time);
    open.magnitude = Math.max(open.magnitude, detection.magnitude);
    const previous = open.alert;
    const raised = severityRank(detection.severity) > severityRank(previous.severity);
    const grown = open.magnitude >= 2 * open.sentMagnitude;
    const samples = [...(previous.samples ?? [])];
    const known = new Set(samples.map((sample) => JSON.stringify(sample)));
    for (const sample of detection.samples) if (samples.length < maxSamples && !known.has(JSON.stringify(sample))) samples.push(sample);
    const updated: Alert = {
      ...previous,
      severity: raised ? detection.severity : previous.severity,
      end_time: Math.max(previous.end_time, detection.time),
      summary: raised || grown ? detection.summary : previous.summary,
      evidence: { ...previous.evidence, ...detection.evidence },
      count: open.countBefore + open.windowCount,
      samples,
    };
    if (!raised && !grown) {
      open.alert = updated;
      this.table.touch(fingerprint, open);
      return [];
    }
    open.alert = { ...updated, revision: (previous.revision ?? 0) + 1 };
    open.sentMagnitude = open.magnitude;
    this.table.touch(fingerprint, open);
    return [open.alert];
  }

  /** Resolves the alerts with no evidence since `watermark - resolveAfterMs`; returns their last revisions. */
  resolveUpTo(watermark: number): Alert[] {
    // Least recently updated first: once one is still active, the rest are too (near enough; one
    // a little out of order resolves at a later call).
    return this.table.takeDue((open) => open.lastSeen + this.options.resolveAfterMs <= watermark).map(([, open]) => resolvedOf(open));
  }

  private build(fingerprint: string, detection: Detection): Alert {
    return {
      // The opening detection's time: a later episode always opens later, so never reuses an id.
      alert_id: `${fingerprint}:${detection.time}`,
      fingerprint,
      detector: detection.detector,
      severity: detection.severity,
      start_time: detection.windowStart,
      end_time: detection.time,
      status: 'open',
      revision: 0,
      technique: techniqueOf[detection.detector],
      ...detection.ends,
      source_labels: detection.ends.source_labels ?? {},
      dest_labels: detection.ends.dest_labels ?? {},
      indicator: detection.indicator ?? null,
      feed: detection.feed ?? null,
      summary: detection.summary,
      evidence: { ...detection.evidence },
      count: detection.count,
      samples: detection.samples.slice(0, maxSamples),
    };
  }
}
