import { DetectCore, type DetectOptions } from '../../../detect/detect-core.js';
import type { FeedMatcher } from '../../../detect/detectors/ioc-detector.js';
import type { Alert, EnrichedFlow } from '../../../schemas/types.js';

export const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
export const minute = 60_000;
/** Learning: the first ten minutes of event time. */
export const learnMs = 10 * minute;
export const afterLearning = T0 + learnMs + minute;

export const testOptions: DetectOptions = { learnMs, windowMs: minute, allowedLatenessMs: 5_000 };

/** Flows of each minute from `from` (inclusive) to `to` (exclusive), made by `each(minuteStart)`. */
export function everyMinute(from: number, to: number, each: (start: number) => EnrichedFlow[]): EnrichedFlow[] {
  const flows: EnrichedFlow[] = [];
  for (let start = from; start < to; start += minute) flows.push(...each(start));
  return flows;
}

/** Flows in event order (a stable sort by end time), as one collector would emit them. */
export const inEventOrder = (flows: readonly EnrichedFlow[]) => [...flows].sort((a, b) => a.end_time - b.end_time);

/** Flows per `process` call. */
export const batchSize = 10;

export function detect(flows: readonly EnrichedFlow[], options: DetectOptions = testOptions, feeds?: FeedMatcher): { core: DetectCore; alerts: Alert[] } {
  const core = new DetectCore(options, () => feeds);
  const alerts: Alert[] = [];
  for (let index = 0; index < flows.length; index += batchSize) alerts.push(...core.process(flows.slice(index, index + batchSize)));
  return { core, alerts };
}

/**
 * A changelog as a restart reads it back from a compacted topic: the last value of each key, in
 * no useful order (partitions interleave). Shuffled deterministically.
 */
function compacted(changelog: readonly { key: string; value: string | null }[]): { key: string; value: string | null }[] {
  const latest = new Map(changelog.map((change) => [change.key, change]));
  let seed = 7;
  return [...latest.values()]
    .map((change) => ({ change, order: (seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0) }))
    .sort((a, b) => a.order - b.order)
    .map(({ change }) => change);
}

/**
 * The same flows through a core that is restarted from its changelog at each cut (a multiple of
 * `batchSize`): the state written so far, compacted and shuffled, is all the next core gets.
 */
export function detectWithRestarts(flows: readonly EnrichedFlow[], cuts: readonly number[], options: DetectOptions = testOptions, feeds?: FeedMatcher): Alert[] {
  const changelog: { key: string; value: string | null }[] = [];
  const alerts: Alert[] = [];
  const bounds = [0, ...cuts, flows.length];
  for (let part = 0; part + 1 < bounds.length; part++) {
    const core = new DetectCore(options, () => feeds);
    core.restore(compacted(changelog));
    const slice = flows.slice(bounds[part], bounds[part + 1]);
    for (let index = 0; index < slice.length; index += batchSize) {
      alerts.push(...core.process(slice.slice(index, index + batchSize)));
      changelog.push(...core.takeChanges());
    }
  }
  return alerts;
}

export const opened = (alerts: readonly Alert[]) => alerts.filter((alert) => alert.revision === 0);
