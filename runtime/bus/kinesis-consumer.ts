import type { BatchHandler, BusConsumer, ConsumerOptions, TopicPartition } from './bus.js';
import type { ShardLeases, ShardState } from './checkpoint-store.js';
import { BusError, closedError } from './errors.js';
import { kinesisLimits, type KinesisApi } from './kinesis-api.js';
import { KinesisShardReader, type ShardReadOutcome, type ShardReadTuning } from './kinesis-shard-reader.js';
import { eligibleShards, listStreamShards, planLeases, shardKey, type ShardInfo } from './kinesis-shards.js';
import { Signal } from './signal.js';

export interface KinesisConsumerTuning extends ShardReadTuning {
  /** How long a shard lease and a member heartbeat last without renewal; a crashed member's shards move after this. */
  readonly leaseMs: number;
  /** Heartbeat, lease renewal and rebalancing period; well under `leaseMs`. */
  readonly renewIntervalMs: number;
  /** How often the shard list is read again to notice a reshard (also right after a shard is finished). */
  readonly shardSyncIntervalMs: number;
}

export const defaultKinesisConsumerTuning: KinesisConsumerTuning = {
  leaseMs: 10_000,
  renewIntervalMs: 3_000,
  shardSyncIntervalMs: 30_000,
  idlePollMs: 1_000,
  retryBackoffMs: 100,
  throttleBackoffMs: 500,
  maxBackoffMs: 10_000,
};

interface Reading {
  readonly reader: KinesisShardReader;
  done: Promise<void>;
}

/**
 * A group member over Kinesis. The group is a namespace of the checkpoint store, where each
 * member heartbeats and leases shards: it reads the shards it leases (one `KinesisShardReader`
 * each), takes its fair share of the eligible ones, gives up shards beyond it, and checkpoints
 * each batch after its handler resolved. On close it waits for the batches in flight,
 * checkpoints those acknowledged and releases its leases, so the next member resumes at once.
 */
export class KinesisBusConsumer implements BusConsumer {
  private readonly readers = new Map<string, Reading>();
  private readonly shards = new Map<string, ShardInfo[]>();
  private shardsReadAt = 0;
  private resync = false;
  private paused = false;
  private readonly resumed = new Signal();
  private handler: BatchHandler | undefined;
  private startup: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  /** Balance again without waiting for the next heartbeat. */
  private nudged = false;
  private closing: Promise<void> | undefined;
  /** This member has heartbeated in the group's store. */
  private joined = false;

  constructor(
    private readonly client: KinesisApi,
    private readonly leases: ShardLeases,
    private readonly options: ConsumerOptions,
    private readonly tuning: KinesisConsumerTuning,
    private readonly onError: (error: Error) => void,
  ) {}

  async start(handler: BatchHandler): Promise<void> {
    if (this.handler) throw new BusError('INVALID_ARGUMENT', 'the consumer is already started', false);
    if (this.closing) throw closedError('the consumer');
    this.handler = handler;
    this.startup = this.begin();
    await this.startup;
  }

  private async begin(): Promise<void> {
    await this.readShards();
    await this.balance();
    if (!this.closing) this.loop = this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    while (!this.closing) {
      if (!this.nudged) {
        await new Promise<void>((wake) => {
          const timer = setTimeout(wake, this.tuning.renewIntervalMs);
          this.wakeLoop = () => {
            clearTimeout(timer);
            wake();
          };
        });
      }
      this.nudged = false;
      if (this.closing) return;
      await this.balance().catch((error: unknown) => this.onError(error as Error));
    }
  }

  private async readShards(): Promise<void> {
    for (const topic of this.options.topics) this.shards.set(topic, await listStreamShards(this.client, topic));
    this.shardsReadAt = Date.now();
    this.resync = false;
  }

  /** Heartbeat, then follow the plan: stop readers of lost or surplus shards, lease and read free ones. */
  private async balance(): Promise<void> {
    const state = await this.leases.renew();
    this.joined = true;
    for (const [key, { reader }] of this.readers) {
      if (state.shards[key]?.owner !== this.leases.owner) reader.stop();
    }
    if (this.resync || Date.now() - this.shardsReadAt >= this.tuning.shardSyncIntervalMs) await this.readShards();
    const all = [...this.shards.values()].flat();
    const eligible = eligibleShards(all, state);
    const plan = planLeases(this.leases.owner, eligible.map((shard) => shard.key), new Set(this.readers.keys()), state, Date.now());
    for (const key of plan.release) this.readers.get(key)?.reader.stop();
    if (plan.acquire.length === 0 || this.closing) return;
    const held = await this.leases.acquire(plan.acquire);
    const listed = new Set(all.map((shard) => shard.key));
    for (const shard of eligible) {
      const entry = held.get(shard.key);
      if (entry) this.read(shard, entry, shard.parents.some((parent) => listed.has(shardKey(shard.stream, parent))));
    }
  }

  private read(shard: ShardInfo, entry: ShardState, hasParents: boolean): void {
    const reader = new KinesisShardReader({
      client: this.client,
      shard,
      checkpoint: entry.checkpoint,
      // A child starts where its finished parents ended: at its beginning.
      initial: hasParents || (this.options.fromBeginning ?? true) ? 'TRIM_HORIZON' : 'LATEST',
      limit: Math.max(1, Math.min(this.options.maxBatchMessages ?? 500, kinesisLimits.recordsPerGet)),
      tuning: this.tuning,
      handler: this.handler!,
      paused: () => this.paused,
      resumed: this.resumed,
      commit: (sequenceNumber, finished) => this.leases.checkpoint(shard.key, sequenceNumber, finished),
      onError: this.onError,
    });
    const reading: Reading = { reader, done: Promise.resolve() };
    this.readers.set(shard.key, reading);
    reading.done = reader
      .run()
      .catch((error: unknown): ShardReadOutcome => {
        this.onError(error as Error);
        return 'stopped';
      })
      .then((outcome) => this.finish(shard, outcome));
  }

  private async finish(shard: ShardInfo, outcome: ShardReadOutcome): Promise<void> {
    try {
      if (outcome !== 'lost') await this.leases.release([shard.key]);
    } catch (error) {
      // The lease expires unrenewed, or this member takes it again at its next heartbeat.
      this.onError(error as Error);
    } finally {
      this.readers.delete(shard.key);
    }
    if (outcome === 'finished') {
      // Its children may be eligible now.
      this.resync = true;
      this.nudged = true;
      this.wakeLoop?.();
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.resumed.notify();
  }

  assignment(): readonly TopicPartition[] {
    return [...this.readers.values()].map(({ reader }) => ({ topic: reader.shard.stream, partition: reader.shard.partition }));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.wakeLoop?.();
    await this.startup?.catch(() => undefined);
    await this.loop;
    for (const { reader } of this.readers.values()) reader.stop();
    await Promise.all([...this.readers.values()].map((reading) => reading.done));
    if (this.joined) await this.leases.leave().catch((error: unknown) => this.onError(error as Error));
  }
}
