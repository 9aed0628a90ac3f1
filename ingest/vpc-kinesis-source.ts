/**
 * VPC Flow Logs delivered by a CloudWatch Logs subscription filter to a Kinesis stream, as a
 * FlowSource. Each Kinesis record is one subscription payload (`cloudwatch-subscription.ts`);
 * each log event's message is one flow log record, parsed in the configured format (CloudWatch
 * events carry no header: the default v2 format unless given).
 *
 * The bridge between the bus (push: a handler per batch, acknowledged when it resolves) and a
 * FlowSource (pull: `batches()`, then `commit(position)`):
 * - The consumer's handler parses its batch into a SourceBatch, puts it in a queue of at most
 *   `maxQueuedBatches` (waiting for room), and resolves only once `commit` reached that batch.
 *   Until then the bus holds the shard's next records back (one batch in flight per shard), so
 *   memory stays bounded by shards × batch size, and nothing is checkpointed before it is committed.
 * - `commit(position)` acknowledges every batch handed out up to and including that one (in the
 *   order `batches()` yielded them); the bus then checkpoints them. A caller must commit a batch
 *   before waiting for many more: a shard whose batch is never committed delivers nothing else.
 * - `close()` fails the batches not yet committed (the bus delivers them again to the next
 *   reader of the group), ends `batches()` and closes the consumer.
 *
 * Problems name `kinesis:<stream>/<shardId>`, the record's sequence number as offset and, for a
 * bad log event, its index in the payload as line and its event id in the message.
 * Works over any Bus (a MemoryBus in unit tests): a payload is the raw message value.
 */
import type { Bus, BusConsumer, IncomingBatch, IncomingMessage } from '../runtime/bus/bus.js';
import { closedError } from '../runtime/bus/errors.js';
import { Signal } from '../runtime/bus/signal.js';
import type { RawFlow } from '../schemas/types.js';
import { decodeSubscriptionPayload } from './cloudwatch-subscription.js';
import { IngestError, problemOf } from './problems.js';
import type { FlowSource, ParseProblem, SourceBatch, SourceLocation } from './source.js';
import { defaultVpcFormat, emptyVpcCounts, parseVpcLine, type VpcCounts, type VpcFlowLogFormat } from './vpc-flow-log.js';

export interface VpcKinesisPosition {
  readonly stream: string;
  readonly partition: number;
  /** Sequence number of the batch's last record. */
  readonly sequenceNumber: string;
  /** Order in which `batches()` yielded the batch. */
  readonly serial: number;
}

export interface VpcKinesisSourceOptions {
  /** A KinesisBus in production. */
  readonly bus: Bus;
  readonly streams: readonly string[];
  /** Consumer group: where the bus keeps the group's checkpoints and shard leases. */
  readonly groupId: string;
  /** Format of the log events; the default v2 format unless given. */
  readonly format?: VpcFlowLogFormat;
  /** Where a group without checkpoints starts: the oldest record (default) or new ones only. */
  readonly fromBeginning?: boolean;
  /** Records per bus batch. */
  readonly maxBatchMessages?: number;
  /** Parsed batches waiting for `batches()` to take them. */
  readonly maxQueuedBatches?: number;
  /** Refuse payloads larger than this once decompressed. */
  readonly maxDecodedBytes?: number;
  readonly name?: string;
}

/** Counts of a Kinesis VPC source: the VPC counts (a line is a log event) plus payloads. */
export interface VpcKinesisCounts extends VpcCounts {
  records: number;
  controlMessages: number;
}

interface Pending {
  readonly batch: SourceBatch<VpcKinesisPosition>;
  readonly ack: () => void;
  readonly fail: (error: Error) => void;
}

export class VpcKinesisSource implements FlowSource<VpcKinesisPosition> {
  readonly name: string;
  readonly counts: VpcKinesisCounts = { ...emptyVpcCounts(), records: 0, controlMessages: 0 };

  private readonly format: VpcFlowLogFormat;
  private readonly maxQueued: number;
  private consumer: BusConsumer | undefined;
  /** Parsed, waiting to be yielded. */
  private readonly ready: Pending[] = [];
  /** Yielded, waiting for `commit`, in yield order. */
  private readonly handedOut: Pending[] = [];
  private readonly arrived = new Signal();
  private readonly room = new Signal();
  private serial = 0;
  private iterating = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: VpcKinesisSourceOptions) {
    this.name = options.name ?? 'vpc-kinesis';
    this.format = options.format ?? defaultVpcFormat;
    this.maxQueued = Math.max(1, options.maxQueuedBatches ?? 4);
  }

  async *batches(): AsyncGenerator<SourceBatch<VpcKinesisPosition>> {
    if (this.iterating) throw new IngestError('INGEST_BUSY', `${this.name}: batches() is already being read`);
    if (this.closing) return;
    this.iterating = true;
    try {
      if (!this.consumer) {
        const { bus, streams, groupId, fromBeginning, maxBatchMessages } = this.options;
        const consumer = bus.consumer({
          groupId,
          topics: streams,
          ...(fromBeginning !== undefined ? { fromBeginning } : {}),
          ...(maxBatchMessages !== undefined ? { maxBatchMessages } : {}),
        });
        this.consumer = consumer;
        try {
          await consumer.start((batch) => this.handle(batch));
        } catch (error) {
          // A missing stream, say: the next call starts afresh.
          this.consumer = undefined;
          await consumer.close().catch(() => undefined);
          throw error;
        }
      }
      while (!this.closing) {
        const next = this.ready.shift();
        if (!next) {
          await this.arrived.wait();
          continue;
        }
        this.handedOut.push(next);
        this.room.notify();
        yield next.batch;
      }
    } finally {
      this.iterating = false;
    }
  }

  async commit(position: VpcKinesisPosition): Promise<void> {
    while (this.handedOut.length > 0 && this.handedOut[0]!.batch.position.serial <= position.serial) this.handedOut.shift()!.ack();
  }

  countsByName(): Record<string, number> {
    return { ...this.counts };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const error = closedError(`source ${this.name}`);
    for (const pending of this.ready.splice(0)) pending.fail(error);
    for (const pending of this.handedOut.splice(0)) pending.fail(error);
    this.arrived.notify();
    this.room.notify();
    await this.consumer?.close();
  }

  /** The bus consumer's handler: resolves once the batch is committed, rejects when the source closes first. */
  private async handle(batch: IncomingBatch): Promise<void> {
    while (!this.closing && this.ready.length >= this.maxQueued) await this.room.wait();
    if (this.closing) throw closedError(`source ${this.name}`);
    const parsed = this.parse(batch);
    return new Promise<void>((ack, fail) => {
      this.ready.push({ batch: parsed, ack, fail });
      this.arrived.notify();
    });
  }

  private parse(batch: IncomingBatch): SourceBatch<VpcKinesisPosition> {
    const flows: RawFlow[] = [];
    const problems: ParseProblem[] = [];
    const source = `kinesis:${batch.topic}/shardId-${String(batch.partition).padStart(12, '0')}`;
    for (const message of batch.messages) this.parseRecord(message, source, flows, problems);
    const last = batch.messages.at(-1);
    const position = { stream: batch.topic, partition: batch.partition, sequenceNumber: last?.offset ?? '', serial: ++this.serial };
    return { flows, problems, position };
  }

  private parseRecord(message: IncomingMessage, source: string, flows: RawFlow[], problems: ParseProblem[]): void {
    const { counts } = this;
    counts.records++;
    let subscription;
    try {
      subscription = decodeSubscriptionPayload(message.value, { maxDecodedBytes: this.options.maxDecodedBytes });
    } catch (error) {
      counts.problems++;
      problems.push(problemOf({ source, offset: message.offset }, message.value, error));
      return;
    }
    if (subscription.messageType === 'CONTROL_MESSAGE') {
      counts.controlMessages++;
      return;
    }
    subscription.logEvents.forEach((event, index) => {
      counts.lines++;
      try {
        const result = parseVpcLine(this.format, event.message);
        if (result.kind === 'flow') {
          counts.flows++;
          flows.push(result.flow);
        } else if (result.status === 'NODATA') counts.noData++;
        else counts.skipData++;
      } catch (error) {
        counts.problems++;
        const location: SourceLocation = { source, line: index + 1, offset: message.offset };
        const reason = error instanceof IngestError ? error : new IngestError('INGEST_BAD_LINE', String(error));
        const named = new IngestError(reason.code, `event ${event.id} of ${subscription.logGroup}/${subscription.logStream}: ${reason.message}`);
        problems.push(problemOf(location, event.message, named));
      }
    });
  }
}
