/**
 * Log events cut into PutLogEvents batches that CloudWatch Logs accepts. Pure.
 *
 * Rules (each a parameter of `BatchLimits`, defaults from the PutLogEvents documentation):
 * - a batch holds at most `maxBatchBytes` (1 MiB), counting each message's UTF-8 bytes plus
 *   `eventOverheadBytes` (26) per event, and at most `maxBatchEvents` (10 000) events;
 * - its events are in chronological order (a stable sort by timestamp: equal timestamps keep
 *   their input order) and its first and last events are at most `maxSpanMs` (24 h) apart;
 * - an event over `maxEventBytes` (256 KiB, the 26 bytes included) or with an empty message is
 *   put in no batch: it comes back as refused, with a reason, for the caller to dead-letter.
 *
 * Batches follow each other in time: every event of a batch is no later than the first event of
 * the next one, so writing them in order keeps a stream chronological.
 */

export interface LogEvent {
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly message: string;
}

export interface BatchLimits {
  readonly maxBatchBytes: number;
  readonly maxBatchEvents: number;
  readonly maxEventBytes: number;
  readonly eventOverheadBytes: number;
  readonly maxSpanMs: number;
}

export const cloudWatchBatchLimits: BatchLimits = Object.freeze({
  maxBatchBytes: 1_048_576,
  maxBatchEvents: 10_000,
  maxEventBytes: 262_144,
  eventOverheadBytes: 26,
  maxSpanMs: 24 * 60 * 60 * 1000,
});

export const refusedEventReasons = {
  tooLarge: 'CLOUDWATCH_EVENT_TOO_LARGE',
  empty: 'CLOUDWATCH_EVENT_EMPTY',
} as const;

export interface LogBatch<T extends LogEvent> {
  readonly events: readonly T[];
  /** Message bytes plus the per-event overhead: what the service counts against the limit. */
  readonly bytes: number;
}

export interface RefusedEvent<T extends LogEvent> {
  readonly event: T;
  readonly reason: (typeof refusedEventReasons)[keyof typeof refusedEventReasons];
  readonly message: string;
}

export interface Batching<T extends LogEvent> {
  readonly batches: readonly LogBatch<T>[];
  readonly refused: readonly RefusedEvent<T>[];
}

/** What an event costs against the batch limit: its message's UTF-8 bytes plus the overhead. */
export function eventSize(event: LogEvent, limits: BatchLimits = cloudWatchBatchLimits): number {
  return Buffer.byteLength(event.message, 'utf8') + limits.eventOverheadBytes;
}

/** Sorts (stably) by timestamp, refuses what no batch may hold, and cuts the rest greedily. */
export function buildLogBatches<T extends LogEvent>(events: readonly T[], limits: Partial<BatchLimits> = {}): Batching<T> {
  const rules: BatchLimits = { ...cloudWatchBatchLimits, ...limits };
  const sorted = events.map((event, index) => ({ event, index })).sort((a, b) => a.event.timestamp - b.event.timestamp || a.index - b.index);
  const batches: LogBatch<T>[] = [];
  const refused: RefusedEvent<T>[] = [];
  let current: T[] = [];
  let bytes = 0;
  const cut = () => {
    if (current.length > 0) batches.push({ events: current, bytes });
    current = [];
    bytes = 0;
  };
  for (const { event } of sorted) {
    if (event.message.length === 0) {
      refused.push({ event, reason: refusedEventReasons.empty, message: 'a log event needs a non-empty message' });
      continue;
    }
    const size = eventSize(event, rules);
    if (size > rules.maxEventBytes || size > rules.maxBatchBytes) {
      const limit = Math.min(rules.maxEventBytes, rules.maxBatchBytes);
      refused.push({ event, reason: refusedEventReasons.tooLarge, message: `log event of ${size} bytes (with overhead) is over the ${limit}-byte limit` });
      continue;
    }
    const first = current[0];
    if (
      first !== undefined &&
      (bytes + size > rules.maxBatchBytes || current.length >= rules.maxBatchEvents || event.timestamp - first.timestamp > rules.maxSpanMs)
    ) {
      cut();
    }
    current.push(event);
    bytes += size;
  }
  cut();
  return { batches, refused };
}
