import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { BatchHandler, BusConsumer, ConsumerOptions, IncomingMessage, TopicPartition } from './bus.js';
import { BusError, closedError } from './errors.js';
import { delay } from './signal.js';

export interface KafkaConsumerTuning {
  readonly heartbeatIntervalMs: number;
  readonly retryBackoffMs: number;
}

function toIncoming(topic: string, partition: number, message: KafkaMessage): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    key: message.key?.toString('utf8') ?? '',
    value: message.value ?? Buffer.alloc(0),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}

/**
 * A group member over kafkajs `eachBatch` with auto-resolve off: a fetched batch is cut into
 * handler batches; each offset is resolved and committed only after its handler resolved; a
 * rejected handler is retried with back-off (heartbeating meanwhile); a batch in flight when the
 * member stops or loses the partition is left unresolved, so the group delivers it again.
 */
export class KafkaBusConsumer implements BusConsumer {
  private assigned: TopicPartition[] = [];
  private started = false;
  private closing = false;
  private paused = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: ConsumerOptions,
    private readonly tuning: KafkaConsumerTuning,
  ) {
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assignment = event.payload.memberAssignment as Record<string, number[]>;
      this.assigned = Object.entries(assignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
    });
  }

  async start(handler: BatchHandler): Promise<void> {
    if (this.started) throw new BusError('INVALID_ARGUMENT', 'the consumer is already started', false);
    if (this.closing) throw closedError('the consumer');
    this.started = true;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: true,
      autoCommitThreshold: 1,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.consume(payload, handler),
    });
  }

  private async consume(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch } = payload;
    const size = this.options.maxBatchMessages ?? 500;
    for (let start = 0; start < batch.messages.length; start += size) {
      // Returning leaves the rest unresolved: kafkajs fetches it again from the resolved offset.
      if (!payload.isRunning() || payload.isStale() || this.closing || this.paused) return;
      const slice = batch.messages.slice(start, start + size);
      const messages = slice.map((message) => toIncoming(batch.topic, batch.partition, message));
      const done = await this.handleWithRetry(payload, handler, { topic: batch.topic, partition: batch.partition, messages });
      if (!done) return;
      payload.resolveOffset(slice.at(-1)!.offset);
      await payload.commitOffsetsIfNecessary();
      await payload.heartbeat();
    }
  }

  /** True once the handler resolved; false when the member stops first. Heartbeats while it runs. */
  private async handleWithRetry(
    payload: EachBatchPayload,
    handler: BatchHandler,
    batch: Parameters<BatchHandler>[0],
  ): Promise<boolean> {
    for (let failures = 0; ; failures++) {
      const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), this.tuning.heartbeatIntervalMs);
      try {
        await handler(batch);
        return true;
      } catch {
        // The batch stays unacknowledged; it is tried again below, or redelivered by the group.
      } finally {
        clearInterval(beat);
      }
      if (!payload.isRunning() || payload.isStale() || this.closing) return false;
      await delay(Math.min(this.tuning.retryBackoffMs * 2 ** failures, 5_000));
      await payload.heartbeat();
      if (!payload.isRunning() || payload.isStale() || this.closing) return false;
    }
  }

  pause(): void {
    this.paused = true;
    this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    this.paused = false;
    this.consumer.resume(this.options.topics.map((topic) => ({ topic })));
  }

  assignment(): readonly TopicPartition[] {
    return this.assigned;
  }

  /** Closed, or closing: a crash from now on is the close's own, not one to restart from. */
  get isClosing(): boolean {
    return this.closing;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.consumer.disconnect();
    this.assigned = [];
  }
}
