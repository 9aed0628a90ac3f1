import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
} from '@aws-sdk/client-kinesis';
import { awsClientSettings } from '../aws.js';
import { endpointsFromEnv } from '../endpoints.js';
import { OpenResources } from './open-resources.js';
import type { Bus, BusConsumer, BusProducer, ConsumerOptions, TopicSpec } from './bus.js';
import { ShardLeases, type CheckpointStore } from './checkpoint-store.js';
import { BusError, closedError } from './errors.js';
import { FileCheckpointStore } from './file-checkpoint-store.js';
import { awsErrorName, kinesisError, kinesisLimits, type KinesisApi } from './kinesis-api.js';
import { defaultKinesisConsumerTuning, KinesisBusConsumer, type KinesisConsumerTuning } from './kinesis-consumer.js';
import { defaultKinesisProducerOptions, KinesisBatchingProducer, type KinesisProducerOptions } from './kinesis-producer.js';
import { delay } from './signal.js';

export interface KinesisBusOptions {
  /** Where consumer groups keep sequence numbers and shard leases: a directory (file store) or any store. */
  readonly checkpoints: string | CheckpointStore;
  /** Defaults to a client for `AWS_REGION` / `AWS_ENDPOINT_URL`, closed with the bus. */
  readonly client?: KinesisApi;
  readonly producer?: Partial<KinesisProducerOptions>;
  readonly consumer?: Partial<KinesisConsumerTuning>;
  /** Longest `ensureTopics` waits for a stream to become ACTIVE. */
  readonly streamActiveTimeoutMs?: number;
  /** Failures the bus works around (a poll or checkpoint that failed); a process warning by default. */
  readonly onError?: (error: Error) => void;
}

const hourMs = 3_600_000;
const minimumRetentionHours = 24;

/** Every reason `spec` cannot be a Kinesis stream. */
function specProblems(spec: TopicSpec): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) problems.push(`topic '${spec.name}' needs at least one partition`);
  if (spec.compacted) {
    problems.push(`topic '${spec.name}' is compacted, which Kinesis does not offer (records leave with retention, not by key)`);
  }
  if (spec.retentionMs !== undefined && Math.ceil(spec.retentionMs / hourMs) > kinesisLimits.maxRetentionHours) {
    const most = kinesisLimits.maxRetentionHours;
    problems.push(`topic '${spec.name}' asks for ${spec.retentionMs} ms of retention; Kinesis keeps at most ${most} hours`);
  }
  return problems;
}

/**
 * The bus over Amazon Kinesis Data Streams: topic = stream, partition = shard (numbered by its
 * id), offset = sequence number, consumer group = a namespace of the checkpoint store.
 * `ensureTopics` creates missing streams with one shard per partition and extends retention
 * beyond Kinesis' 24 hours when asked (a shorter retention is kept at 24 hours). It refuses
 * compacted topics, and ignores the replication factor (Kinesis replicates on its own).
 */
export class KinesisBus implements Bus {
  readonly kind = 'kinesis';
  private readonly client: KinesisApi;
  private readonly ownClient: KinesisClient | undefined;
  private readonly store: CheckpointStore;
  private readonly onError: (error: Error) => void;
  private readonly open = new OpenResources();
  private closed = false;

  constructor(private readonly options: KinesisBusOptions) {
    if (options.client) this.client = options.client;
    else this.client = this.ownClient = new KinesisClient(awsClientSettings(endpointsFromEnv()));
    this.store = typeof options.checkpoints === 'string' ? new FileCheckpointStore(options.checkpoints) : options.checkpoints;
    this.onError = options.onError ?? ((error) => process.emitWarning(error));
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.assertOpen();
    const problems = specs.flatMap(specProblems);
    if (problems.length > 0) throw new BusError('INVALID_ARGUMENT', problems.join('; '), false, specs.map((spec) => spec.name).join(', '));
    for (const spec of specs) await this.ensureStream(spec);
  }

  private async ensureStream(spec: TopicSpec): Promise<void> {
    const status = await this.streamStatus(spec.name);
    if (status === 'ACTIVE') return;
    if (status !== undefined) return this.waitActive(spec.name);
    try {
      await this.client.send(new CreateStreamCommand({ StreamName: spec.name, ShardCount: spec.partitions }));
    } catch (cause) {
      // Created meanwhile by another process: theirs counts.
      if (awsErrorName(cause) === 'ResourceInUseException') return this.waitActive(spec.name);
      throw kinesisError(spec.name, 'CreateStream', cause);
    }
    await this.waitActive(spec.name);
    const hours = Math.ceil((spec.retentionMs ?? 0) / hourMs);
    if (hours > minimumRetentionHours) {
      try {
        await this.client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: spec.name, RetentionPeriodHours: hours }));
      } catch (cause) {
        throw kinesisError(spec.name, 'IncreaseStreamRetentionPeriod', cause);
      }
      await this.waitActive(spec.name);
    }
  }

  /** The stream's status, or undefined when it does not exist. */
  private async streamStatus(stream: string): Promise<string | undefined> {
    try {
      const { StreamDescriptionSummary } = await this.client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      return StreamDescriptionSummary?.StreamStatus ?? 'UNKNOWN';
    } catch (cause) {
      if (awsErrorName(cause) === 'ResourceNotFoundException') return undefined;
      throw kinesisError(stream, 'DescribeStreamSummary', cause);
    }
  }

  private async waitActive(stream: string): Promise<void> {
    const deadline = Date.now() + (this.options.streamActiveTimeoutMs ?? 120_000);
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      const status = await this.streamStatus(stream);
      if (status === 'ACTIVE') return;
      if (status === undefined || status === 'DELETING' || Date.now() > deadline) {
        throw new BusError('UNKNOWN_TOPIC', `stream '${stream}' did not become ACTIVE (status ${status ?? 'missing'})`, true, stream);
      }
      await delay(wait);
    }
  }

  producer(): BusProducer {
    this.assertOpen();
    return this.open.track(new KinesisBatchingProducer(this.client, { ...defaultKinesisProducerOptions, ...this.options.producer }));
  }

  consumer(options: ConsumerOptions): BusConsumer {
    this.assertOpen();
    const tuning = { ...defaultKinesisConsumerTuning, ...this.options.consumer };
    const member = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const leases = new ShardLeases(this.store, options.groupId, member, { leaseMs: tuning.leaseMs });
    return this.open.track(new KinesisBusConsumer(this.client, leases, options, tuning, this.onError));
  }

  private assertOpen(): void {
    if (this.closed) throw closedError('the Kinesis bus');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.open.closeAll();
    this.ownClient?.destroy();
  }
}
