/**
 * The CloudWatch Logs outlet: flows to a stream per node, alerts and actions to streams of their
 * own, in a log group per cluster (see README.md). The adapter around the pure modules of this
 * folder: it creates what is missing, sends the batches, retries, and reads back.
 *
 * - One PutLogEvents in flight per stream (its batches go in order, across writes too); up to
 *   `concurrency` streams at a time.
 * - Throttling, 5xx, network errors and timeouts are retried with exponential back-off and full
 *   jitter, with no cap on attempts: `write` resolves only once every item is written or
 *   rejected; `close()` ends the waits and the pending writes reject with OutletClosedError.
 * - After an ambiguous failure (the request may have been carried out: a 5xx, a timeout, a
 *   connection cut after sending), the stream is read back before the next attempt, and the
 *   attempt is skipped when the batch is already there.
 * - Events refused by time (rejectedLogEventsInfo), oversized events and batches refused for good
 *   (InvalidParameterException, ...) come back as rejections with their reason; never retried.
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { awsClientSettings } from '../../runtime/aws.js';
import { backoffDelay } from '../../runtime/backoff.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { MetricsRegistry, type Counter } from '../../runtime/metrics.js';
import { OutletClosedError, type Outlet, type OutletRejection, type SinkItem } from '../outlet.js';
import { resolveCloudWatchOptions, type CloudWatchOutletOptions, type ResolvedCloudWatchOptions } from './cloudwatch-options.js';
import { emfLogEvents } from './emf-metrics.js';
import { sinkRecordLogEvent } from './flow-lines.js';
import { buildLogBatches, type LogBatch, type LogEvent } from './log-batches.js';
import { logGroupName, logStreamName, type StreamKind } from './log-names.js';
import { classifyFailure, missingFromStream, outOfTimeRange, rejectedEvents, type RetryCause } from './put-outcomes.js';

export type { CloudWatchOutletOptions } from './cloudwatch-options.js';
export { CloudWatchConfigError } from './cloudwatch-options.js';

/** A log event and the item it came from (none for EMF documents). */
interface OutgoingEvent extends LogEvent {
  readonly item?: SinkItem;
}

interface StreamWork {
  readonly group: string;
  readonly stream: string;
  readonly kind: StreamKind;
  readonly events: OutgoingEvent[];
}

interface CloudWatchMetrics {
  readonly events: Counter;
  readonly batches: Counter;
  readonly retries: Counter;
  readonly rejections: Counter;
  readonly duplicatesAvoided: Counter;
  readonly readBacks: Counter;
}

function registerMetrics(registry: MetricsRegistry): CloudWatchMetrics {
  return {
    events: registry.counter('flowsentry_sink_cloudwatch_events_total', 'Log events written to CloudWatch Logs, by stream kind (flow, alert, action, metrics).'),
    batches: registry.counter('flowsentry_sink_cloudwatch_batches_total', 'PutLogEvents batches written, by stream kind.'),
    retries: registry.counter('flowsentry_sink_cloudwatch_retries_total', 'CloudWatch Logs calls tried again, by cause.'),
    rejections: registry.counter('flowsentry_sink_cloudwatch_rejections_total', 'Log events CloudWatch Logs refused or the outlet could not send, by reason.'),
    duplicatesAvoided: registry.counter('flowsentry_sink_cloudwatch_duplicates_avoided_total', 'Batches not sent again because a read-back found them written.'),
    readBacks: registry.counter('flowsentry_sink_cloudwatch_read_backs_total', 'Streams read back after an ambiguous failure, by outcome (written, missing, failed).'),
  };
}

/** A setup call failed for good: the stream's items are rejected with this reason. */
class PermanentFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const READ_BACK_PAGE = 10_000;

export class CloudWatchOutlet implements Outlet {
  readonly name = 'cloudwatch';
  readonly metrics: MetricsRegistry;
  private readonly options: ResolvedCloudWatchOptions;
  private readonly client: CloudWatchLogsClient;
  private readonly counters: CloudWatchMetrics;
  private readonly abort = new AbortController();
  private readonly groups = new Map<string, Promise<void>>();
  private readonly streams = new Map<string, Promise<void>>();
  /** The tail of each stream's chain of writes: one PutLogEvents in flight per stream. */
  private readonly streamTails = new Map<string, Promise<unknown>>();
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(options: CloudWatchOutletOptions) {
    this.options = resolveCloudWatchOptions(options);
    this.metrics = options.metrics ?? new MetricsRegistry();
    this.counters = registerMetrics(this.metrics);
    this.client = new CloudWatchLogsClient({ ...awsClientSettings(options.endpoints ?? endpointsFromEnv()), maxAttempts: 1 });
  }

  /** The log group all records go to. */
  get logGroup(): string {
    return logGroupName(this.options.naming, this.options.cluster);
  }

  /** The stream a record kind (and node, for flows) goes to. */
  streamFor(kind: StreamKind, node?: string): string {
    return logStreamName(this.options.naming, kind, this.options.cluster, node);
  }

  async write(items: readonly SinkItem[]): Promise<readonly OutletRejection[]> {
    if (this.closed) throw new OutletClosedError(this.name);
    const work = this.route(items);
    const rejections: OutletRejection[] = [];
    const run = this.runStreams(work, rejections);
    this.pending.add(run);
    try {
      await run;
    } finally {
      this.pending.delete(run);
    }
    return rejections;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
    this.client.destroy();
  }

  /** The items' log events by stream, plus the EMF documents when enabled. */
  private route(items: readonly SinkItem[]): StreamWork[] {
    const group = this.logGroup;
    const byStream = new Map<string, StreamWork>();
    const add = (kind: StreamKind, stream: string, event: OutgoingEvent) => {
      let work = byStream.get(stream);
      if (!work) {
        work = { group, stream, kind, events: [] };
        byStream.set(stream, work);
      }
      work.events.push(event);
    };
    for (const item of items) {
      const { record } = item;
      const event = sinkRecordLogEvent(record, this.options.format);
      add(record.kind, this.streamFor(record.kind, record.kind === 'flow' ? record.record.host : undefined), { ...event, item });
    }
    if (this.options.emf) {
      const metricsStream = this.streamFor('metrics');
      for (const event of emfLogEvents(items.map((item) => item.record))) add('metrics', metricsStream, event);
    }
    return [...byStream.values()];
  }

  private async runStreams(work: readonly StreamWork[], rejections: OutletRejection[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        this.assertOpen();
        const stream = work[next++]!;
        await this.inOrder(`${stream.group}\u0000${stream.stream}`, () => this.writeStream(stream, rejections));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, work.length) }, worker));
  }

  /** Runs `task` after every earlier task of the same stream settled. */
  private async inOrder(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.streamTails.get(key) ?? Promise.resolve();
    const mine = previous.then(task, task);
    const tail = mine.catch(() => undefined);
    this.streamTails.set(key, tail);
    try {
      await mine;
    } finally {
      if (this.streamTails.get(key) === tail) this.streamTails.delete(key);
    }
  }

  private async writeStream(work: StreamWork, rejections: OutletRejection[]): Promise<void> {
    const { batches, refused } = buildLogBatches(work.events, this.options.limits);
    for (const { event, reason, message } of refused) this.reject(rejections, event, reason, message);
    if (batches.length === 0) return;
    try {
      await this.ensureStream(work.group, work.stream);
    } catch (error) {
      if (!(error instanceof PermanentFailure)) throw error;
      for (const batch of batches) for (const event of batch.events) this.reject(rejections, event, error.reason, error.message);
      return;
    }
    for (const batch of batches) await this.putBatch(work, batch, rejections);
  }

  private reject(rejections: OutletRejection[], event: OutgoingEvent, reason: string, message: string): void {
    this.counters.rejections.inc({ reason });
    if (event.item) rejections.push({ item: event.item, reason, message });
  }

  /** Sends one batch until it is written or refused for good; reads back before a retry that could duplicate it. */
  private async putBatch(work: StreamWork, batch: LogBatch<OutgoingEvent>, rejections: OutletRejection[]): Promise<void> {
    const { group, stream } = work;
    let retry = 0;
    let mayBeWritten = false;
    for (;;) {
      this.assertOpen();
      if (mayBeWritten && this.options.readBack) {
        const check = await this.readBack(group, stream, batch.events).catch((error: unknown) => this.failedReadBack(error));
        if (check === 'written') {
          this.counters.duplicatesAvoided.inc();
          this.settle(work, batch.events, outOfTimeRange(batch.events, this.serviceClock()), rejections);
          return;
        }
        if (check === 'retry') {
          await this.backOff(++retry);
          continue;
        }
      }
      try {
        const answer = await this.client.send(
          new PutLogEventsCommand({
            logGroupName: group,
            logStreamName: stream,
            logEvents: batch.events.map(({ timestamp, message }) => ({ timestamp, message })),
          }),
          { abortSignal: this.abort.signal },
        );
        this.settle(work, batch.events, rejectedEvents(answer.rejectedLogEventsInfo, batch.events, this.serviceClock()), rejections);
        return;
      } catch (error) {
        this.assertOpen();
        const failure = classifyFailure(error);
        if (failure.kind === 'unexpected') throw error;
        if (failure.kind === 'permanent') {
          for (const event of batch.events) this.reject(rejections, event, failure.reason, failure.message);
          return;
        }
        mayBeWritten ||= failure.ambiguous;
        this.countRetry(failure.cause);
        await this.backOff(++retry);
        if (failure.cause === 'missing_resource') {
          this.forget(group, stream);
          try {
            await this.ensureStream(group, stream);
          } catch (setupError) {
            if (!(setupError instanceof PermanentFailure)) throw setupError;
            // The group or stream went away and cannot be made again: the batch is refused, not retried forever.
            for (const event of batch.events) this.reject(rejections, event, setupError.reason, setupError.message);
            return;
          }
        }
      }
    }
  }

  /** Counts a batch the service took: its events written but those it refused, which are rejected. */
  private settle(work: StreamWork, events: readonly OutgoingEvent[], refused: ReadonlyMap<number, string>, rejections: OutletRejection[]): void {
    for (const [index, reason] of refused) {
      const event = events[index]!;
      this.reject(rejections, event, reason, `CloudWatch Logs did not store the event of ${new Date(event.timestamp).toISOString()} (${reason})`);
    }
    this.counters.events.inc({ kind: work.kind }, events.length - refused.size);
    this.counters.batches.inc({ kind: work.kind });
  }

  /**
   * Whether the stream already holds the batch: its events in [first, last] are read from the
   * tail, at most `readBackPages` pages, and compared by timestamp and message. Events the
   * service would refuse by time cannot be there and are left out of the comparison.
   */
  private async readBack(group: string, stream: string, events: readonly OutgoingEvent[]): Promise<'written' | 'missing'> {
    const refusable = outOfTimeRange(events, this.serviceClock());
    const expected = events.filter((_, i) => !refusable.has(i));
    if (expected.length === 0) return 'missing';
    const stored: LogEvent[] = [];
    let token: string | undefined;
    for (let page = 0; page < this.options.readBackPages; page++) {
      const answer = await this.client.send(
        new GetLogEventsCommand({
          logGroupName: group,
          logStreamName: stream,
          startTime: expected[0]!.timestamp,
          endTime: expected[expected.length - 1]!.timestamp + 1,
          startFromHead: false,
          limit: READ_BACK_PAGE,
          ...(token ? { nextToken: token } : {}),
        }),
        { abortSignal: this.abort.signal },
      );
      for (const event of answer.events ?? []) stored.push({ timestamp: event.timestamp ?? 0, message: event.message ?? '' });
      if (missingFromStream(expected, stored) === 0) {
        this.counters.readBacks.inc({ outcome: 'written' });
        return 'written';
      }
      if (!answer.events?.length || !answer.nextBackwardToken || answer.nextBackwardToken === token) break;
      token = answer.nextBackwardToken;
    }
    this.counters.readBacks.inc({ outcome: 'missing' });
    return 'missing';
  }

  /** A read-back that failed: back off and read again when transient, else send without knowing. */
  private failedReadBack(error: unknown): 'retry' | 'missing' {
    this.assertOpen();
    const failure = classifyFailure(error);
    this.counters.readBacks.inc({ outcome: 'failed' });
    if (failure.kind === 'retry') {
      this.countRetry(failure.cause);
      return 'retry';
    }
    return 'missing';
  }

  private ensureGroup(group: string): Promise<void> {
    let ready = this.groups.get(group);
    if (!ready) {
      ready = (async () => {
        await this.setupCall(() => this.client.send(new CreateLogGroupCommand({ logGroupName: group }), { abortSignal: this.abort.signal }));
        const days = this.options.retentionDays;
        if (days !== null) {
          await this.setupCall(() =>
            this.client.send(new PutRetentionPolicyCommand({ logGroupName: group, retentionInDays: days }), { abortSignal: this.abort.signal }),
          );
        }
      })();
      this.groups.set(group, ready);
      ready.catch(() => this.groups.delete(group));
    }
    return ready;
  }

  private ensureStream(group: string, stream: string): Promise<void> {
    const key = `${group}\u0000${stream}`;
    let ready = this.streams.get(key);
    if (!ready) {
      ready = (async () => {
        await this.ensureGroup(group);
        await this.setupCall(() => this.client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }), { abortSignal: this.abort.signal }));
      })();
      this.streams.set(key, ready);
      ready.catch(() => this.streams.delete(key));
    }
    return ready;
  }

  private forget(group: string, stream: string): void {
    this.groups.delete(group);
    this.streams.delete(`${group}\u0000${stream}`);
  }

  /** An idempotent creation call, retried while transient; "already exists" is success. */
  private async setupCall(call: () => Promise<unknown>): Promise<void> {
    for (let retry = 1; ; retry++) {
      this.assertOpen();
      try {
        await call();
        return;
      } catch (error) {
        this.assertOpen();
        if ((error as { name?: unknown }).name === 'ResourceAlreadyExistsException') return;
        const failure = classifyFailure(error);
        if (failure.kind === 'unexpected') throw error;
        if (failure.kind === 'permanent') throw new PermanentFailure(failure.reason, failure.message);
        this.countRetry(failure.cause);
        await this.backOff(retry);
      }
    }
  }

  private countRetry(cause: RetryCause): void {
    this.counters.retries.inc({ cause });
  }

  private async backOff(retry: number): Promise<void> {
    await this.options.sleep(backoffDelay(retry, this.options.backoff, this.options.random), this.abort.signal);
    this.assertOpen();
  }

  private assertOpen(): void {
    if (this.closed) throw new OutletClosedError(this.name);
  }

  private serviceClock() {
    return { now: this.options.now(), retentionDays: this.options.retentionDays ?? undefined };
  }
}
