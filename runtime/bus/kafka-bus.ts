import { Kafka, logLevel, Partitioners, type Admin, type ITopicConfig, type KafkaConfig, type logCreator } from 'kafkajs';
import { logger } from '../log.js';
import { OpenResources } from './open-resources.js';
import type { Bus, BusConsumer, BusProducer, ConsumerOptions, PartitionBounds, TopicSpec } from './bus.js';
import { KafkaBusConsumer } from './kafka-consumer.js';
import { KafkaBatchingProducer, type KafkaBatchingOptions } from './kafka-producer.js';

export interface KafkaBusOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly producer?: Partial<KafkaBatchingOptions>;
  /** Idempotent producer (kafkajs' own); off unless configured. */
  readonly idempotent?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly retryBackoffMs?: number;
  /** Longest a fetch waits for data; also bounds how long closing a consumer takes. */
  readonly maxFetchWaitMs?: number;
  readonly logLevel?: 'nothing' | 'error' | 'warn' | 'info';
}

const levels = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO };

/** kafkajs' own log lines as the process's JSON lines (component kafka), not its console output. */
const kafkaLog: logCreator = () => {
  const log = logger('kafka');
  return ({ namespace, level, log: entry }) => {
    const fields: Record<string, unknown> = { namespace };
    for (const [key, value] of Object.entries(entry)) if (key !== 'message' && key !== 'timestamp' && key !== 'logger') fields[key] = value;
    const write = level === logLevel.ERROR ? log.error : level === logLevel.WARN ? log.warn : level === logLevel.INFO ? log.info : log.debug;
    write(entry.message, fields);
  };
};

export const defaultBatching: KafkaBatchingOptions = {
  lingerMs: 5,
  maxBatchBytes: 512 * 1024,
  maxBufferedBytes: 32 * 1024 * 1024,
  compression: 'gzip',
};

/** The bus over Apache Kafka, through kafkajs (kept behind this adapter). */
export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  private readonly kafka: Kafka;
  private readonly open = new OpenResources();

  constructor(private readonly options: KafkaBusOptions) {
    const config: KafkaConfig = {
      clientId: options.clientId ?? 'flowsentry',
      brokers: [...options.brokers],
      logLevel: levels[options.logLevel ?? 'error'],
      logCreator: kafkaLog,
      retry: { retries: 8, initialRetryTime: 100 },
    };
    this.kafka = new Kafka(config);
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics: ITopicConfig[] = specs
        .filter((spec) => !existing.has(spec.name))
        .map((spec) => ({
          topic: spec.name,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor ?? -1,
          configEntries: [
            ...(spec.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
            ...(spec.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(spec.retentionMs) }] : []),
          ],
        }));
      if (topics.length === 0) return;
      try {
        await admin.createTopics({ topics, waitForLeaders: true });
      } catch (error) {
        // Another process created some of them meanwhile (two stages starting together), or
        // kafkajs's own wait for leaders gave up too early (a retriable error: the broker's
        // metadata did not list them yet): wait for the leaders here instead.
        const now = new Set(await admin.listTopics());
        if ((error as { retriable?: unknown }).retriable !== true && !topics.every((topic) => now.has(topic.topic))) throw error;
        await this.waitForLeaders(admin, topics.map((topic) => topic.topic));
      }
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Waits until every partition of new topics has a leader. kafkajs's own wait gives up when the
   * broker's metadata does not list a just-created topic yet (UNKNOWN_TOPIC_OR_PARTITION, seen
   * with KRaft right after creation); this one asks again on every retriable error. (Producing
   * without any wait right after creation made a retried send write a batch twice.)
   */
  private async waitForLeaders(admin: Admin, names: readonly string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [...names] });
        if (topics.length === names.length && topics.every((topic) => topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0))) return;
        if (attempt >= 50) throw new Error(`topics ${names.join(', ')} have no leaders after ${attempt} tries`);
      } catch (error) {
        if ((error as { retriable?: unknown }).retriable !== true || attempt >= 50) throw error;
      }
      await new Promise((resolveTimer) => setTimeout(resolveTimer, Math.min(1_000, (this.options.retryBackoffMs ?? 100) * attempt)));
    }
  }

  async endOffsets(topic: string): Promise<ReadonlyMap<number, PartitionBounds>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // A topic created a moment ago may not have its leaders in every broker's metadata yet
      // (NOT_LEADER_FOR_PARTITION, LEADER_NOT_AVAILABLE): ask again after fresh metadata.
      for (let attempt = 1; ; attempt++) {
        try {
          const offsets = await admin.fetchTopicOffsets(topic);
          return new Map(offsets.map((entry) => [entry.partition, { first: entry.low, end: entry.high }] as const));
        } catch (error) {
          if ((error as { retriable?: unknown }).retriable !== true || attempt >= 10) throw error;
          await new Promise((resolveTimer) => setTimeout(resolveTimer, (this.options.retryBackoffMs ?? 100) * attempt));
          await admin.fetchTopicMetadata({ topics: [topic] });
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  producer(): BusProducer {
    const producer = new KafkaBatchingProducer(
      this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: this.options.idempotent ?? false,
        ...(this.options.idempotent ? { maxInFlightRequests: 1 } : {}),
      }),
      { ...defaultBatching, ...this.options.producer },
    );
    return this.open.track(producer);
  }

  consumer(options: ConsumerOptions): BusConsumer {
    const heartbeatIntervalMs = this.options.heartbeatIntervalMs ?? 1_000;
    const made: { consumer?: KafkaBusConsumer } = {};
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      // kafkajs restarts a crashed consumer by default, even one crashed by our own disconnect
      // (a close while it was joining its group): it would reconnect and keep the process alive.
      retry: { restartOnFailure: async () => !(made.consumer?.isClosing ?? false) },
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: 30_000,
      maxWaitTimeInMs: this.options.maxFetchWaitMs ?? 1_000,
    });
    made.consumer = new KafkaBusConsumer(consumer, options, { heartbeatIntervalMs, retryBackoffMs: this.options.retryBackoffMs ?? 100 });
    return this.open.track(made.consumer);
  }

  async close(): Promise<void> {
    await this.open.closeAll();
  }
}
