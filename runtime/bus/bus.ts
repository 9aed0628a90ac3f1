/**
 * The bus: how every stage talks to the next. One interface over Kafka, Kinesis and the
 * in-process bus of the embedded default.
 *
 * Delivery is at-least-once. A consumer hands a batch (messages of one partition, in order)
 * to its handler; the batch is acknowledged when the handler resolves, and only then. A batch
 * whose handler rejects, or that was in flight when the consumer closed or crashed, is
 * delivered again (to this consumer or to the next member of its group).
 */
export interface OutgoingMessage {
  /** Partitioning key: messages with one key keep their order. */
  readonly key: string;
  /** An empty value is a tombstone: on a compacted topic, the key goes away (Kafka writes null). */
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface IncomingMessage extends OutgoingMessage {
  readonly topic: string;
  readonly partition: number;
  /** Position in the partition (Kafka offset, Kinesis sequence number), as a decimal string. */
  readonly offset: string;
  /** Append time, epoch milliseconds. */
  readonly timestamp: number;
}

export interface IncomingBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly IncomingMessage[];
}

export type BatchHandler = (batch: IncomingBatch) => Promise<void>;

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface BusProducer {
  /** Resolves once the transport has durably acknowledged every message. Waits while the producer's buffer is full. */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  /** Sends what is buffered and releases the connection. */
  close(): Promise<void>;
}

export interface BusConsumer {
  /** Joins the group and delivers batches to `handler` until closed. Resolves once delivery has started. */
  start(handler: BatchHandler): Promise<void>;
  /** Stops fetching after the batches in flight; nothing is lost, delivery waits for `resume`. */
  pause(): void;
  resume(): void;
  /** Partitions currently assigned to this member. */
  assignment(): readonly TopicPartition[];
  /** Waits for the batches in flight, commits what was acknowledged and leaves the group. */
  close(): Promise<void>;
}

export interface PartitionBounds {
  readonly first: string;
  readonly end: string;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** Keep only the latest value per key (inventory, detector state). */
  readonly compacted?: boolean;
  readonly retentionMs?: number;
  readonly replicationFactor?: number;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed position starts: the oldest message (default) or only new ones. */
  readonly fromBeginning?: boolean;
  /** Upper bound on the messages of one batch. */
  readonly maxBatchMessages?: number;
}

export interface Bus {
  readonly kind: string;
  /** Creates missing topics (idempotent). */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  producer(): BusProducer;
  consumer(options: ConsumerOptions): BusConsumer;
  /**
   * Per partition, where its messages end (`end`: the position the next message will get, Kafka's
   * high watermark) and begin (`first`: the oldest one still kept; equal to `end` when retention
   * or compaction left none). A reader that has handled everything before `end` has caught up.
   * Transports without it leave it out.
   */
  endOffsets?(topic: string): Promise<ReadonlyMap<number, PartitionBounds>>;
  close(): Promise<void>;
}
