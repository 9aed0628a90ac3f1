/**
 * The sink stage on the bus: reads enriched flows, alerts and response actions, and writes each
 * to every outlet (OpenSearch, CloudWatch Logs). A batch is acknowledged — and its input offsets
 * committed — only once every outlet has written or refused every record of it. While an outlet
 * retries (throttled, down), the batch waits and no more input is taken from its partition:
 * memory stays bounded by the batch size, and the stage catches up when the outlet is back. A
 * record an outlet refuses for good goes to the dead-letter topic with the outlet and the reason,
 * once per outlet that refused it; its batch-mates land.
 */
import type { Bus, IncomingBatch, IncomingMessage } from '../runtime/bus/bus.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { deadLetterOf, StageRunner, type StageOutput } from '../runtime/stage-runner.js';
import { topics as defaultTopics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import { toJson } from '../schemas/json.js';
import type { DeadLetter, SchemaName } from '../schemas/types.js';
import { sinkRecordKinds, type Outlet, type OutletRejection, type SinkItem, type SinkRecord, type SinkRecordKind } from './outlet.js';

const deadLetterCodec = codecFor('DeadLetter');

export const recordTypeOf: Readonly<Record<SinkRecordKind, SchemaName>> = { flow: 'EnrichedFlow', alert: 'Alert', action: 'ResponseAction' };

type TopicKey = 'flowsEnriched' | 'alerts' | 'actions';
const topicKeyOf: Readonly<Record<SinkRecordKind, TopicKey>> = { flow: 'flowsEnriched', alert: 'alerts', action: 'actions' };

export interface SinkWorkerOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  readonly outlets: readonly Outlet[];
  /** Which records to write. Default all three. */
  readonly kinds?: readonly SinkRecordKind[];
  /** Default `flowsentry-sink`. */
  readonly groupId?: string;
  readonly topics?: Partial<Record<TopicKey | 'deadLetters', string>>;
  readonly maxBatchMessages?: number;
  /**
   * Group members in this process, default 3: while some members' batches wait on the outlets,
   * another decodes and prepares its own, so the outlets always have work (each outlet bounds
   * its requests in flight itself). Each member holds its own partitions: a topic needs at
   * least this many to use them all. Memory is bounded by members × batch size.
   */
  readonly members?: number;
  /** How long `close()` lets a batch in hand finish before it gives up the outlets' retries. Default 10 s. */
  readonly drainTimeoutMs?: number;
  readonly now?: () => number;
}

/** The records of one bus message. Throws (and the runner dead-letters the message) when it does not decode. */
export function sinkRecordsOf(kind: SinkRecordKind, value: Uint8Array): SinkRecord[] {
  const records = codecFor(recordTypeOf[kind]).decodeAll(value);
  return records.map((record) => ({ kind, record }) as SinkRecord);
}

/**
 * The dead letter of a record an outlet refused, with the outlet and its reason. Off the bus: where
 * its message was, and as `original` that record alone (its Avro encoding), not the whole message
 * it came in, whose other records landed. From a replay of files (no message): the record as JSON.
 */
export function rejectionDeadLetter(outlet: string, rejection: OutletRejection, failedAt: number): DeadLetter {
  const { record, from } = rejection.item;
  const type = recordTypeOf[record.kind];
  const error = Object.assign(new Error(`${outlet}: ${rejection.message}`), { code: rejection.reason });
  if (from) return deadLetterOf('sink', { ...from, value: codecFor(type).encode(record.record as never) }, error, failedAt, type);
  return {
    reason: rejection.reason,
    message: error.message,
    retriable: false,
    stage: 'sink',
    record_type: type,
    source: { topic: null, partition: null, offset: null, position: null, file: null, line: null },
    original: Buffer.from(JSON.stringify(toJson(type, record.record as never))),
    failed_at: failedAt,
  };
}

/** Whether decimal position `a` comes after `b`. */
const isAfter = (a: string, b: string) => (a.length !== b.length ? a.length > b.length : a > b);

export class SinkWorker {
  private runners: StageRunner[] = [];
  private readonly kindOfTopic = new Map<string, SinkRecordKind>();
  private readonly deadLetterTopic: string;
  private readonly written;
  private readonly rejected;

  constructor(private readonly options: SinkWorkerOptions) {
    for (const kind of options.kinds ?? sinkRecordKinds) {
      const key = topicKeyOf[kind];
      this.kindOfTopic.set(options.topics?.[key] ?? defaultTopics[key], kind);
    }
    this.deadLetterTopic = options.topics?.deadLetters ?? defaultTopics.deadLetters;
    this.written = options.metrics.counter('flowsentry_sink_records_total', 'Records written by the sink, by outlet and kind.');
    this.rejected = options.metrics.counter('flowsentry_sink_rejected_total', 'Records an outlet refused for good (dead-lettered), by outlet and reason.');
  }

  async start(): Promise<void> {
    this.runners = Array.from({ length: this.options.members ?? 3 }, () => this.member());
    await Promise.all(this.runners.map((runner) => runner.start()));
  }

  private member(): StageRunner {
    // The records of each batch this member has in hand, by `topic/partition`: a member's own, so
    // a partition moving between members of this process never mixes two batches.
    const pending = new Map<string, SinkItem[]>();
    return new StageRunner({
      stage: 'sink',
      bus: this.options.bus,
      groupId: this.options.groupId ?? 'flowsentry-sink',
      inputTopics: [...this.kindOfTopic.keys()],
      deadLetterTopic: this.deadLetterTopic,
      handler: (message) => this.collect(pending, message),
      batchDone: async (batch) => [await this.writeBatch(pending, batch)],
      metrics: this.options.metrics,
      ...(this.options.maxBatchMessages ? { maxBatchMessages: this.options.maxBatchMessages } : {}),
      ...(this.options.now ? { now: this.options.now } : {}),
    });
  }

  /** Lets the batch in hand finish (up to the drain timeout), then gives up retries, commits what was written and stops. */
  async close(): Promise<void> {
    const closing = Promise.all(this.runners.map((runner) => runner.close()));
    const timeout = new Promise<'timeout'>((resolveTimeout) => setTimeout(resolveTimeout, this.options.drainTimeoutMs ?? 10_000, 'timeout').unref());
    let outletsClosed: Promise<unknown> | undefined;
    const closeOutlets = () => (outletsClosed ??= Promise.all(this.options.outlets.map((outlet) => outlet.close())));
    try {
      if ((await Promise.race([closing.then(() => 'closed' as const), timeout])) === 'timeout') {
        await closeOutlets();
        await closing;
      }
    } finally {
      await closeOutlets();
    }
  }

  private collect(pending: Map<string, SinkItem[]>, message: IncomingMessage): StageOutput[] {
    const kind = this.kindOfTopic.get(message.topic);
    if (!kind) throw new Error(`sink: no record kind is read from topic ${message.topic}`);
    const records = sinkRecordsOf(kind, message.value);
    const key = `${message.topic}/${message.partition}`;
    let list = pending.get(key);
    // A batch delivered again after a failure starts over: what an earlier attempt left goes.
    const last = list?.at(-1)?.from;
    if (!list || (last && !isAfter(message.offset, last.offset))) pending.set(key, (list = []));
    for (const record of records) list.push({ record, from: message });
    return [];
  }

  private async writeBatch(pending: Map<string, SinkItem[]>, batch: IncomingBatch): Promise<StageOutput[]> {
    const key = `${batch.topic}/${batch.partition}`;
    const items = pending.get(key) ?? [];
    pending.delete(key);
    if (items.length === 0) return [];
    const now = this.options.now ?? Date.now;
    const results = await Promise.all(this.options.outlets.map(async (outlet) => ({ outlet: outlet.name, rejections: await outlet.write(items) })));
    const perKind = new Map<SinkRecordKind, number>();
    for (const item of items) perKind.set(item.record.kind, (perKind.get(item.record.kind) ?? 0) + 1);
    const letters: StageOutput[] = [];
    for (const { outlet, rejections } of results) {
      const written = new Map(perKind);
      for (const rejection of rejections) {
        const { record, from } = rejection.item;
        written.set(record.kind, written.get(record.kind)! - 1);
        this.rejected.inc({ outlet, reason: rejection.reason });
        if (from) {
          const letter = rejectionDeadLetter(outlet, rejection, now());
          letters.push({ topic: this.deadLetterTopic, key: `${outlet}/${from.topic}/${from.partition}`, value: deadLetterCodec.encode(letter) });
        }
      }
      for (const [kind, count] of written) this.written.inc({ outlet, kind }, count);
    }
    return letters;
  }
}
