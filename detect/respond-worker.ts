import type { Bus, IncomingMessage } from '../runtime/bus/bus.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { StageRunner, type StageOutput } from '../runtime/stage-runner.js';
import { topics as defaultTopics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { DeadLetter } from '../schemas/types.js';
import type { AlertNotifier } from './notify/alert-notifier.js';

export interface RespondWorkerOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  /** Makes the notifier, given where its dead letters go. */
  readonly notifier: (onDeadLetter: (letter: DeadLetter) => void) => AlertNotifier;
  /** Consumer group of the alert input. Default `flowsentry-respond`. */
  readonly groupId?: string;
  readonly topics?: Partial<Record<'alerts' | 'deadLetters', string>>;
  readonly maxBatchMessages?: number;
  readonly now?: () => number;
}

const alertCodec = codecFor('Alert');
const deadLetterCodec = codecFor('DeadLetter');

/**
 * The respond stage on the bus: reads alerts and hands each to the notifier. A batch is
 * acknowledged only once every delivery it started has ended — delivered, or kept as a dead
 * letter on the dead-letter topic — so a crash never loses a notification, and the receiver
 * de-duplicates a repeat by its `webhook-id`. Detection never waits on any of this: it only wrote
 * the alert.
 */
export class RespondWorker {
  private runner: StageRunner | undefined;
  /** The notifier's dead letters, written with the batch that made them. */
  private readonly letters: DeadLetter[] = [];
  /** Dead letters in the batch being written. */
  private writing = 0;
  private readonly notifier: AlertNotifier;

  constructor(private readonly options: RespondWorkerOptions) {
    this.notifier = options.notifier((letter) => this.letters.push(letter));
  }

  async start(): Promise<void> {
    const deadLetters = this.options.topics?.deadLetters ?? defaultTopics.deadLetters;
    this.runner = new StageRunner({
      stage: 'respond',
      bus: this.options.bus,
      groupId: this.options.groupId ?? 'flowsentry-respond',
      inputTopics: [this.options.topics?.alerts ?? defaultTopics.alerts],
      deadLetterTopic: deadLetters,
      handler: (message) => this.respond(message),
      batchDone: async () => {
        await this.notifier.drain();
        // Kept until written: a send that fails leaves them for the batch's retry.
        this.writing = this.letters.length;
        return [this.letters.map((letter) => ({ topic: deadLetters, key: 'notify', value: deadLetterCodec.encode(letter) }))];
      },
      batchSent: () => {
        this.letters.splice(0, this.writing);
        this.writing = 0;
      },
      recordType: 'Alert',
      metrics: this.options.metrics,
      ...(this.options.maxBatchMessages ? { maxBatchMessages: this.options.maxBatchMessages } : {}),
      ...(this.options.now ? { now: this.options.now } : {}),
    });
    await this.runner.start();
  }

  async close(): Promise<void> {
    await this.runner?.close();
    await this.notifier.close();
  }

  private respond(message: IncomingMessage): StageOutput[] {
    // A message that does not decode is dead-lettered by the runner, with the reason.
    for (const alert of alertCodec.decodeAll(message.value)) this.notifier.notify(alert);
    return [];
  }
}
