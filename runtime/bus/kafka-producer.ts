import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import type { BusProducer, OutgoingMessage } from './bus.js';
import { BusError, closedError } from './errors.js';
import { Signal } from './signal.js';

export interface KafkaBatchingOptions {
  /** How long a message may wait for others to fill its batch. */
  readonly lingerMs: number;
  /** A batch is sent as soon as it holds this many bytes. */
  readonly maxBatchBytes: number;
  /** `send` waits while this many bytes are buffered or in flight. */
  readonly maxBufferedBytes: number;
  readonly compression: 'none' | 'gzip';
}

interface PendingBatch {
  readonly byTopic: Map<string, Message[]>;
  bytes: number;
  readonly waiters: Array<{ resolve: () => void; reject: (error: Error) => void }>;
}

const emptyBatch = (): PendingBatch => ({ byTopic: new Map(), bytes: 0, waiters: [] });
const messageBytes = (message: OutgoingMessage) => message.value.length + message.key.length + 16;

/**
 * Batching in front of a kafkajs producer (which has none of its own): messages wait at most
 * `lingerMs`, a batch goes out when it reaches `maxBatchBytes`, one batch is in flight at a
 * time (so retries cannot reorder a key), acks=all, and `send` waits while the buffer is full.
 */
export class KafkaBatchingProducer implements BusProducer {
  private pending = emptyBatch();
  private inFlight: Promise<void> = Promise.resolve();
  private bufferedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly space = new Signal();
  private closed = false;
  private connected: Promise<void> | undefined;

  constructor(
    private readonly producer: Producer,
    private readonly options: KafkaBatchingOptions,
  ) {}

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw closedError('the producer');
    if (messages.length === 0) return;
    this.connected ??= this.producer.connect();
    await this.connected;
    const deliveries: Promise<void>[] = [];
    let joined: PendingBatch | undefined;
    for (const message of messages) {
      while (this.bufferedBytes >= this.options.maxBufferedBytes) {
        await this.space.wait();
        if (this.closed) throw closedError('the producer');
      }
      const batch = this.pending;
      if (batch !== joined) {
        joined = batch;
        deliveries.push(new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject })));
      }
      let list = batch.byTopic.get(topic);
      if (!list) batch.byTopic.set(topic, (list = []));
      // An empty value is a tombstone: Kafka's null, which compaction removes with its key.
      list.push({ key: message.key, value: message.value.length === 0 ? null : message.value, ...(message.headers ? { headers: { ...message.headers } } : {}) });
      const size = messageBytes(message);
      batch.bytes += size;
      this.bufferedBytes += size;
      if (batch.bytes >= this.options.maxBatchBytes) this.flush();
    }
    if (this.pending.bytes > 0) this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    await Promise.all(deliveries);
  }

  /** Hands the pending batch to the single in-flight slot. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.waiters.length === 0) return;
    this.pending = emptyBatch();
    this.inFlight = this.inFlight.then(() => this.deliver(batch));
  }

  private async deliver(batch: PendingBatch): Promise<void> {
    try {
      await this.producer.sendBatch({
        acks: -1,
        compression: this.options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        topicMessages: [...batch.byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const waiter of batch.waiters) waiter.resolve();
    } catch (cause) {
      const topics = [...batch.byTopic.keys()].join(', ');
      const error = new BusError(
        'SEND_FAILED',
        `sending ${batch.waiters.length} request(s) to ${topics} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        (cause as { retriable?: boolean }).retriable ?? true,
        topics,
        { cause },
      );
      for (const waiter of batch.waiters) waiter.reject(error);
    } finally {
      this.bufferedBytes -= batch.bytes;
      this.space.notify();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await this.inFlight;
    this.space.notify();
    if (this.connected) {
      await this.connected.catch(() => undefined);
      await this.producer.disconnect();
    }
  }
}
