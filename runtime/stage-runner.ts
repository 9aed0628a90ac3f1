import type { Bus, BusConsumer, BusProducer, IncomingBatch, IncomingMessage, OutgoingMessage, TopicPartition } from './bus/bus.js';
import { codecFor } from '../schemas/codec.js';
import type { RecordTypes } from '../schemas/types.js';
import type { MetricsRegistry } from './metrics.js';

type DeadLetter = RecordTypes['DeadLetter'];
const deadLetterCodec = codecFor('DeadLetter');

/** A message a stage emits for one input message. */
export interface StageOutput extends OutgoingMessage {
  readonly topic: string;
}

/** Turns one input message into its outputs. A throw dead-letters the message, unless the error is `retriable`. */
export type StageHandler = (message: IncomingMessage) => readonly StageOutput[] | Promise<readonly StageOutput[]>;

export interface StageRunnerOptions {
  readonly stage: string;
  readonly bus: Bus;
  readonly groupId: string;
  readonly inputTopics: readonly string[];
  readonly deadLetterTopic: string;
  readonly handler: StageHandler;
  /** The record type the stage expects, named in its dead letters. */
  readonly recordType?: string;
  readonly metrics: MetricsRegistry;
  readonly maxBatchMessages?: number;
  /** Wall clock for dead-letter times; the stage's own logic never reads it. */
  readonly now?: () => number;
  /**
   * Called once the batch's messages were handled: more outputs of the batch as a whole (a
   * stage's state changelog), in phases. They are sent after the handler's outputs and dead
   * letters were acknowledged, one phase after the other, so a stage can write what a restart
   * trusts (an input offset) last.
   */
  readonly batchDone?: (batch: IncomingBatch) => readonly (readonly StageOutput[])[] | Promise<readonly (readonly StageOutput[])[]>;
  /** Called once every output of the batch was acknowledged (the batch is then acknowledged too). */
  readonly batchSent?: (batch: IncomingBatch) => void;
}

/** The reason code of an error: its `code` when it has one (SCHEMA_CORRUPT_PAYLOAD, ...), else PROCESSING_FAILED. */
export function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'PROCESSING_FAILED';
}

/** A position as a DeadLetter keeps it: always as written, and as a long when it fits one. */
export function positionFields(position: string | undefined): { offset: number | null; position: string | null } {
  if (position === undefined) return { offset: null, position: null };
  const asNumber = /^\d+$/.test(position) ? Number(position) : Number.NaN;
  return { offset: Number.isSafeInteger(asNumber) ? asNumber : null, position };
}

/** The dead letter of a message a stage could not decode or process. */
export function deadLetterOf(stage: string, message: IncomingMessage, error: unknown, failedAt: number, recordType?: string): DeadLetter {
  return {
    reason: reasonOf(error),
    message: error instanceof Error ? error.message : String(error),
    retriable: false,
    stage,
    record_type: recordType ?? null,
    source: { topic: message.topic, partition: message.partition, ...positionFields(message.offset), file: null, line: null },
    original: message.value,
    failed_at: failedAt,
  };
}

const isRetriable = (error: unknown) => (error as { retriable?: unknown } | null)?.retriable === true;

/**
 * Wires a stage's handler to the bus: consumes a batch, handles each message, sends outputs and
 * dead letters, and acknowledges the batch only once all of them were acknowledged. A message
 * whose handler throws goes to the dead-letter topic with the reason and its original bytes; a
 * retriable error (an outlet down) rejects the batch instead, so the bus delivers it again.
 */
export class StageRunner {
  private consumer: BusConsumer | undefined;
  private producer: BusProducer | undefined;
  private readonly records;
  private readonly deadLetters;

  constructor(private readonly options: StageRunnerOptions) {
    this.records = options.metrics.counter('flowsentry_stage_records_total', 'Input records handled, by stage and outcome.');
    this.deadLetters = options.metrics.counter('flowsentry_dead_letters_total', 'Records sent to the dead-letter topic, by stage and reason.');
  }

  async start(): Promise<void> {
    const { bus, groupId, inputTopics, maxBatchMessages } = this.options;
    this.producer = bus.producer();
    this.consumer = bus.consumer({ groupId, topics: inputTopics, ...(maxBatchMessages ? { maxBatchMessages } : {}) });
    await this.consumer.start((batch) => this.handleBatch(batch));
  }

  /** The input partitions this member holds now. */
  assignment(): readonly TopicPartition[] {
    return this.consumer?.assignment() ?? [];
  }

  /** Backpressure from an outlet further down: stop taking input, then take it again. */
  pause(): void {
    this.consumer?.pause();
  }

  resume(): void {
    this.consumer?.resume();
  }

  async close(): Promise<void> {
    await this.consumer?.close();
    await this.producer?.close();
  }

  private async handleBatch(batch: IncomingBatch): Promise<void> {
    const { stage, handler, deadLetterTopic, recordType } = this.options;
    const now = this.options.now ?? Date.now;
    const outputs = new Map<string, OutgoingMessage[]>();
    const collect = (output: StageOutput) => {
      let list = outputs.get(output.topic);
      if (!list) outputs.set(output.topic, (list = []));
      list.push(output);
    };
    const letters: OutgoingMessage[] = [];
    const reasons: string[] = [];
    for (const message of batch.messages) {
      try {
        for (const output of await handler(message)) collect(output);
      } catch (error) {
        if (isRetriable(error)) throw error;
        const letter = deadLetterOf(stage, message, error, now(), recordType);
        reasons.push(letter.reason);
        letters.push({ key: `${message.topic}/${message.partition}`, value: deadLetterCodec.encode(letter) });
      }
    }
    const producer = this.producer!;
    const sends = [...outputs].map(([topic, messages]) => producer.send(topic, messages));
    if (letters.length > 0) sends.push(producer.send(deadLetterTopic, letters));
    await Promise.all(sends);
    for (const phase of (await this.options.batchDone?.(batch)) ?? []) {
      const byTopic = new Map<string, OutgoingMessage[]>();
      for (const output of phase) {
        const list = byTopic.get(output.topic);
        if (list) list.push(output);
        else byTopic.set(output.topic, [output]);
      }
      await Promise.all([...byTopic].map(([topic, messages]) => producer.send(topic, messages)));
    }
    this.options.batchSent?.(batch);
    for (const reason of reasons) this.deadLetters.inc({ stage, reason });
    this.records.inc({ stage, outcome: 'ok' }, batch.messages.length - reasons.length);
    if (reasons.length > 0) this.records.inc({ stage, outcome: 'dead-letter' }, reasons.length);
  }
}
