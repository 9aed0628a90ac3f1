import type {
  BatchHandler,
  Bus,
  BusConsumer,
  BusProducer,
  ConsumerOptions,
  IncomingMessage,
  OutgoingMessage,
  PartitionBounds,
  TopicPartition,
  TopicSpec,
} from './bus.js';
import { BusError, closedError, unknownTopicError } from './errors.js';
import { partitionForKey } from './partitioner.js';
import { delay, Signal } from './signal.js';
import { logger } from '../log.js';

const busLog = logger('bus');

export interface MemoryBusOptions {
  /** Messages kept per partition; the oldest go first once a partition holds more. */
  readonly retainedMessagesPerPartition?: number;
  /** A producer waits while any group lags this far behind on a partition it writes to. */
  readonly maxLagPerPartition?: number;
  /** First back-off after a handler rejects; doubles up to 5 s. */
  readonly retryBackoffMs?: number;
}

interface PartitionLog {
  /** Offset of `messages[0]`. */
  base: number;
  messages: IncomingMessage[];
}

interface TopicState {
  readonly spec: TopicSpec;
  readonly partitions: PartitionLog[];
}

interface GroupState {
  readonly committed: Map<string, number>;
  readonly members: MemoryConsumer[];
  /** Partitions with a batch in a handler right now (at most one per partition in a group). */
  readonly busy: Set<string>;
  readonly topics: Set<string>;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const endOffset = (log: PartitionLog) => log.base + log.messages.length;

/**
 * The in-process bus of the embedded default, with the semantics of the Kafka bus: partitions
 * by key hash, committed positions per group, redelivery of what was not acknowledged, and
 * producers that wait (bounded memory) while a group lags too far behind.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly topics = new Map<string, TopicState>();
  private readonly groups = new Map<string, GroupState>();
  /** Notified on every append, commit, rebalance, pause/resume and close. */
  readonly changed = new Signal();
  private closed = false;
  readonly retained: number;
  readonly maxLag: number;
  readonly retryBackoffMs: number;

  constructor(options: MemoryBusOptions = {}) {
    this.retained = options.retainedMessagesPerPartition ?? 100_000;
    this.maxLag = Math.min(options.maxLagPerPartition ?? 10_000, this.retained);
    this.retryBackoffMs = options.retryBackoffMs ?? 100;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of specs) {
      if (spec.partitions < 1) throw new BusError('INVALID_ARGUMENT', `topic '${spec.name}' needs at least one partition`, false, spec.name);
      if (this.topics.has(spec.name)) continue;
      const partitions = Array.from({ length: spec.partitions }, () => ({ base: 0, messages: [] }));
      this.topics.set(spec.name, { spec, partitions });
    }
    this.changed.notify();
  }

  async endOffsets(topic: string): Promise<ReadonlyMap<number, PartitionBounds>> {
    this.assertOpen();
    return new Map(this.topic(topic).partitions.map((log, partition) => [partition, { first: String(log.base), end: String(endOffset(log)) }] as const));
  }

  producer(): BusProducer {
    return new MemoryProducer(this);
  }

  consumer(options: ConsumerOptions): BusConsumer {
    return new MemoryConsumer(this, options);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.groups.values()].flatMap((group) => group.members.map((member) => member.close())));
    this.changed.notify();
  }

  assertOpen(): void {
    if (this.closed) throw closedError('the in-process bus');
  }

  topic(name: string): TopicState {
    const topic = this.topics.get(name);
    if (!topic) throw unknownTopicError(name);
    return topic;
  }

  group(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (!group) {
      group = { committed: new Map(), members: [], busy: new Set(), topics: new Set() };
      this.groups.set(groupId, group);
    }
    return group;
  }

  append(topicName: string, message: OutgoingMessage, timestamp: number): number {
    const topic = this.topic(topicName);
    const partition = partitionForKey(message.key, topic.partitions.length);
    const log = topic.partitions[partition]!;
    log.messages.push({
      topic: topicName,
      partition,
      offset: String(endOffset(log)),
      timestamp,
      key: message.key,
      value: message.value,
      ...(message.headers ? { headers: message.headers } : {}),
    });
    const excess = log.messages.length - this.retained;
    if (excess > 0) {
      log.messages.splice(0, excess);
      log.base += excess;
    }
    return partition;
  }

  /** The largest lag of any group that reads `topic` on `partition`. */
  lag(topicName: string, partition: number): number {
    const log = this.topic(topicName).partitions[partition]!;
    let lag = 0;
    for (const group of this.groups.values()) {
      if (!group.topics.has(topicName)) continue;
      const committed = group.committed.get(tpKey(topicName, partition)) ?? log.base;
      lag = Math.max(lag, endOffset(log) - committed);
    }
    return lag;
  }

  /** Round-robin of every partition of the group's topics over its members, in joining order. */
  rebalance(group: GroupState): void {
    const partitions: TopicPartition[] = [];
    for (const name of [...group.topics].sort()) {
      const topic = this.topic(name);
      topic.partitions.forEach((_, partition) => partitions.push({ topic: name, partition }));
    }
    group.members.forEach((member, index) => {
      member.assign(partitions.filter((_, i) => i % group.members.length === index));
    });
    this.changed.notify();
  }
}

class MemoryProducer implements BusProducer {
  private closed = false;

  constructor(private readonly bus: MemoryBus) {}

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw closedError('the producer');
    this.bus.assertOpen();
    this.bus.topic(topic);
    const now = Date.now();
    for (const message of messages) {
      const partition = this.bus.append(topic, message, now);
      if (this.bus.lag(topic, partition) < this.bus.maxLag) continue;
      // Readers see what is there, then this producer waits for their commits. It must not wake
      // others while it waits: two blocked producers would wake each other for ever in
      // microtasks, and no timer or signal handler would run again.
      this.bus.changed.notify();
      while (this.bus.lag(topic, partition) >= this.bus.maxLag) {
        if (this.closed) throw closedError('the producer');
        await this.bus.changed.wait();
      }
    }
    this.bus.changed.notify();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

class MemoryConsumer implements BusConsumer {
  private readonly group: GroupState;
  private assigned: TopicPartition[] = [];
  /** Next offset to deliver, per assigned partition; read from the committed offset when missing. */
  private readonly positions = new Map<string, number>();
  private paused = false;
  private closing = false;
  private loop: Promise<void> | undefined;
  private nextPartition = 0;

  constructor(
    private readonly bus: MemoryBus,
    private readonly options: ConsumerOptions,
  ) {
    this.group = bus.group(options.groupId);
  }

  async start(handler: BatchHandler): Promise<void> {
    if (this.loop) throw new BusError('INVALID_ARGUMENT', 'the consumer is already started', false);
    if (this.closing) throw closedError('the consumer');
    for (const topic of this.options.topics) this.bus.topic(topic);
    for (const topic of this.options.topics) this.group.topics.add(topic);
    this.group.members.push(this);
    this.bus.rebalance(this.group);
    this.loop = this.deliver(handler);
  }

  assign(partitions: TopicPartition[]): void {
    const keep = new Set(partitions.map((tp) => tpKey(tp.topic, tp.partition)));
    for (const key of this.positions.keys()) if (!keep.has(key)) this.positions.delete(key);
    this.assigned = partitions;
    if (this.options.fromBeginning === false) {
      for (const tp of partitions) {
        const key = tpKey(tp.topic, tp.partition);
        if (!this.group.committed.has(key)) {
          this.group.committed.set(key, endOffset(this.bus.topic(tp.topic).partitions[tp.partition]!));
        }
      }
    }
  }

  assignment(): readonly TopicPartition[] {
    return this.assigned;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.bus.changed.notify();
  }

  async close(): Promise<void> {
    if (this.closing) return this.loop;
    this.closing = true;
    this.bus.changed.notify();
    await this.loop;
    const index = this.group.members.indexOf(this);
    if (index >= 0) {
      this.group.members.splice(index, 1);
      this.bus.rebalance(this.group);
    }
  }

  private async deliver(handler: BatchHandler): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      const batch = this.paused ? undefined : this.nextBatch();
      if (!batch) {
        await this.bus.changed.wait();
        continue;
      }
      const key = tpKey(batch.topic, batch.partition);
      const first = Number(batch.messages[0]!.offset);
      this.group.busy.add(key);
      try {
        await handler(batch);
        const next = Number(batch.messages.at(-1)!.offset) + 1;
        this.group.committed.set(key, next);
        if (this.positions.has(key)) this.positions.set(key, next);
        failures = 0;
      } catch (error) {
        if (this.positions.has(key)) this.positions.set(key, first);
        failures += 1;
        // Said on the first failure and then every tenth, so a stage failing for good is seen.
        if (failures % 10 === 1) busLog.warn(`${this.options.groupId}: a batch of ${batch.topic}/${batch.partition} failed; delivering it again`, { failures, error });
        await delay(Math.min(this.bus.retryBackoffMs * 2 ** (failures - 1), 5_000));
      } finally {
        this.group.busy.delete(key);
        this.bus.changed.notify();
      }
    }
  }

  private nextBatch() {
    const count = this.assigned.length;
    for (let i = 0; i < count; i++) {
      const tp = this.assigned[(this.nextPartition + i) % count]!;
      const key = tpKey(tp.topic, tp.partition);
      if (this.group.busy.has(key)) continue;
      const log = this.bus.topic(tp.topic).partitions[tp.partition]!;
      const position = Math.max(this.positions.get(key) ?? this.group.committed.get(key) ?? log.base, log.base);
      if (position >= endOffset(log)) continue;
      this.positions.set(key, position);
      this.nextPartition = (this.nextPartition + i + 1) % count;
      const start = position - log.base;
      const messages = log.messages.slice(start, start + (this.options.maxBatchMessages ?? 500));
      return { topic: tp.topic, partition: tp.partition, messages };
    }
    return undefined;
  }
}
