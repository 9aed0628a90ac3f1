import { GetRecordsCommand, GetShardIteratorCommand, type GetShardIteratorCommandInput, type _Record } from '@aws-sdk/client-kinesis';
import type { BatchHandler, IncomingBatch } from './bus.js';
import { awsErrorName, isThrottle, kinesisError, type KinesisApi } from './kinesis-api.js';
import { decodeRecord } from './kinesis-records.js';
import type { ShardInfo } from './kinesis-shards.js';
import type { Signal } from './signal.js';

export interface ShardReadTuning {
  /** Pause after a GetRecords that returned nothing or reached the end of the shard. */
  readonly idlePollMs: number;
  /** First back-off after a handler rejects; doubles up to 5 s. */
  readonly retryBackoffMs: number;
  /** First back-off on a throughput exception or a failed call; doubles up to `maxBackoffMs`. */
  readonly throttleBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** What the reader needs from its consumer. */
export interface ShardReadContext {
  readonly client: KinesisApi;
  readonly shard: ShardInfo;
  /** The group's last acknowledged sequence number on the shard, if any. */
  readonly checkpoint: string | undefined;
  /** Where to start without a checkpoint. */
  readonly initial: 'TRIM_HORIZON' | 'LATEST';
  /** GetRecords limit, also the largest batch. */
  readonly limit: number;
  readonly tuning: ShardReadTuning;
  readonly handler: BatchHandler;
  readonly paused: () => boolean;
  /** Notified on resume. */
  readonly resumed: Signal;
  /** Stores the position (and that the shard is finished); false once the lease belongs to another member. */
  readonly commit: (sequenceNumber: string | undefined, finished: boolean) => Promise<boolean>;
  readonly onError: (error: Error) => void;
}

/** `finished`: read to the end of a closed shard. `stopped`: asked to stop. `lost`: the lease went to another member. */
export type ShardReadOutcome = 'finished' | 'stopped' | 'lost';

/**
 * Reads one leased shard: GetRecords, hand the records to the handler as one batch, retry it
 * until it resolves, then checkpoint, then read on. One batch in flight per shard; nothing is
 * fetched while the consumer is paused.
 */
export class KinesisShardReader {
  private stopping = false;
  private wake: (() => void) | undefined;
  /** Last sequence number acknowledged. */
  private position: string | undefined;

  constructor(private readonly context: ShardReadContext) {
    this.position = context.checkpoint;
  }

  get shard(): ShardInfo {
    return this.context.shard;
  }

  /** Stops after the batch in flight: a handler that resolves is still checkpointed, one that rejects is not retried. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
    this.context.resumed.notify();
  }

  async run(): Promise<ShardReadOutcome> {
    const { client, limit, tuning, shard } = this.context;
    let iterator: string | undefined;
    let failures = 0;
    while (await this.runnable()) {
      let records: _Record[];
      let next: string | undefined;
      let behindMs: number | undefined;
      try {
        iterator ??= await this.iterator();
        ({ Records: records = [], NextShardIterator: next, MillisBehindLatest: behindMs } = await client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
        ));
        failures = 0;
      } catch (error) {
        iterator = undefined;
        if (awsErrorName(error) === 'ExpiredIteratorException') continue;
        if (!isThrottle(error)) this.context.onError(kinesisError(shard.stream, `reading ${shard.shardId}`, error));
        await this.sleep(Math.min(tuning.throttleBackoffMs * 2 ** failures++, tuning.maxBackoffMs));
        continue;
      }
      if (records.length > 0) {
        if (!(await this.deliver(records))) return 'stopped';
        this.position = records.at(-1)!.SequenceNumber;
      }
      // A closed shard ends with no next iterator once everything in it was returned.
      if (records.length > 0 || !next) {
        const committed = await this.context.commit(this.position, !next).catch((error: unknown) => error as Error);
        if (committed instanceof Error) {
          // The batch stays unacknowledged in the store: whoever reads the shard next gets it again.
          this.context.onError(committed);
          return 'stopped';
        }
        if (!committed) return 'lost';
      }
      if (!next) return 'finished';
      iterator = next;
      // Caught up: let records gather rather than spend the shard's 5 reads a second.
      if (records.length === 0 || behindMs === 0) await this.sleep(tuning.idlePollMs);
    }
    return 'stopped';
  }

  private async iterator(): Promise<string> {
    const { client, shard, initial } = this.context;
    const input: GetShardIteratorCommandInput = {
      StreamName: shard.stream,
      ShardId: shard.shardId,
      ...(this.position !== undefined
        ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: this.position }
        : { ShardIteratorType: initial }),
    };
    const { ShardIterator } = await client.send(new GetShardIteratorCommand(input));
    if (!ShardIterator) throw new Error(`no iterator for ${shard.stream}/${shard.shardId}`);
    return ShardIterator;
  }

  /** True once the handler resolved the batch; false when stopped first. */
  private async deliver(records: readonly _Record[]): Promise<boolean> {
    const { shard, handler, tuning } = this.context;
    const batch: IncomingBatch = {
      topic: shard.stream,
      partition: shard.partition,
      messages: records.map((record) => decodeRecord(shard.stream, shard.partition, record)),
    };
    for (let failures = 0; await this.runnable(); failures++) {
      try {
        await handler(batch);
        return true;
      } catch {
        // Not acknowledged: tried again after the back-off, or read again by the next owner.
      }
      if (this.stopping) return false;
      await this.sleep(Math.min(tuning.retryBackoffMs * 2 ** failures, 5_000));
    }
    return false;
  }

  /** Waits while paused; false once stopping. */
  private async runnable(): Promise<boolean> {
    while (this.context.paused() && !this.stopping) await this.context.resumed.wait();
    return !this.stopping;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolveSleep) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolveSleep();
      };
    });
  }
}
