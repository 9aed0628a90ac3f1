import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { replayFiles, type ReplayOptions, type ReplaySummary } from '../enrich/replay.js';
import { toJson } from '../schemas/json.js';
import type { Alert } from '../schemas/types.js';
import { DetectCore, type DetectOptions, type DetectStats } from './detect-core.js';
import type { FeedMatcher } from './detectors/ioc-detector.js';

export interface DetectReplayOptions extends Omit<ReplayOptions, 'onEnriched'> {
  readonly detect: DetectOptions;
  readonly feeds?: FeedMatcher;
  /** Where alerts go, one Alert JSON object per line (every revision, in the order they were made). */
  readonly alertsOut: string;
  /** Sees the alerts as they are written, and is awaited. */
  readonly onAlerts?: (alerts: readonly Alert[]) => Promise<void> | void;
}

export interface DetectReplaySummary extends ReplaySummary {
  /** Alert records written (every revision). */
  readonly alertRecords: number;
  readonly detection: DetectStats;
}

/**
 * Replay with detection: ingest → enrich → detect over files in event time. Detection reads the
 * flows before the output aggregation (every address and port), the first `learnMs` of event
 * time only trains baselines, and the same input gives the same alerts.
 */
export async function replayWithDetection(options: DetectReplayOptions): Promise<DetectReplaySummary> {
  const feeds = options.feeds;
  const core = new DetectCore(options.detect, () => feeds);
  const alertsOut = (await open(options.alertsOut, 'w')).createWriteStream();
  let alertRecords = 0;
  const writeAlerts = async (alerts: readonly Alert[]) => {
    if (alerts.length === 0) return;
    alertRecords += alerts.length;
    if (!alertsOut.write(alerts.map((alert) => `${JSON.stringify(toJson('Alert', alert))}\n`).join(''))) await once(alertsOut, 'drain');
    await options.onAlerts?.(alerts);
  };
  try {
    const summary = await replayFiles({ ...options, onEnriched: (records) => writeAlerts(core.process(records)) });
    return { ...summary, alertRecords, detection: core.stats };
  } finally {
    await new Promise<void>((resolveEnd, reject) => alertsOut.end((error?: Error | null) => (error ? reject(error) : resolveEnd())));
  }
}
