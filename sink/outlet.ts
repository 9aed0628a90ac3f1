/**
 * What the sink stage writes and what an outlet (OpenSearch, CloudWatch Logs, a file) promises.
 *
 * An outlet's `write` resolves only once every item it was given is durably written or
 * permanently rejected. Transient failures (throttling, 5xx, the service unreachable) are retried
 * inside, with back-off, for as long as it takes: the caller awaits, stops taking input meanwhile
 * (backpressure, bounded memory), and commits its input only after the write resolved. A
 * permanent rejection (a mapping error, an event the service refuses) comes back with its reason,
 * so the caller can dead-letter that item while its batch-mates land.
 */
import type { IncomingMessage } from '../runtime/bus/bus.js';
import type { Alert, EnrichedFlow, ResponseAction } from '../schemas/types.js';

export type SinkRecord =
  | { readonly kind: 'flow'; readonly record: EnrichedFlow }
  | { readonly kind: 'alert'; readonly record: Alert }
  | { readonly kind: 'action'; readonly record: ResponseAction };

export type SinkRecordKind = SinkRecord['kind'];

export const sinkRecordKinds: readonly SinkRecordKind[] = ['flow', 'alert', 'action'];

/** One record to write, and the bus message it came from (absent in a replay from files). */
export interface SinkItem {
  readonly record: SinkRecord;
  readonly from?: IncomingMessage;
}

export interface OutletRejection {
  readonly item: SinkItem;
  /** A reason code: OPENSEARCH_MAPPER_PARSING_EXCEPTION, CLOUDWATCH_TOO_OLD, ... */
  readonly reason: string;
  readonly message: string;
}

export interface Outlet {
  /** `opensearch`, `cloudwatch`, ...: named in metrics and dead letters. */
  readonly name: string;
  /** Resolves once every item is written or permanently rejected; the rejected ones come back. */
  write(items: readonly SinkItem[]): Promise<readonly OutletRejection[]>;
  /** Gives up retries in progress (their `write` rejects) and releases connections. */
  close(): Promise<void>;
}

/** Thrown by `write` when the outlet was closed before the items were written: nothing may be committed. */
export class OutletClosedError extends Error {
  override readonly name = 'OutletClosedError';
  readonly retriable = true;
  constructor(outlet: string) {
    super(`${outlet}: closed before the batch was written`);
  }
}
