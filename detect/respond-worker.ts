import type { Bus, BusProducer, IncomingMessage } from '../runtime/bus/bus.js';
import { logger } from '../runtime/log.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { StageRunner, type StageOutput } from '../runtime/stage-runner.js';
import { topics as defaultTopics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { Alert, DeadLetter, ResponseAction } from '../schemas/types.js';
import type { AlertNotifier } from './notify/alert-notifier.js';

/** What acts on an alert beyond notifying (the quarantine responder). Must be idempotent per alert. */
export interface AlertResponder {
  /** The actions taken or refused for one alert revision. Throws only when it could not decide (e.g. the API is unreachable): the batch is then retried. */
  respond(alert: Alert): Promise<readonly ResponseAction[]>;
  /** Releases what is past its expiry; the actions say what was released. */
  releaseExpired(): Promise<readonly ResponseAction[]>;
}

export interface RespondWorkerOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  /** Makes the notifier, given where its dead letters go. */
  readonly notifier: (onDeadLetter: (letter: DeadLetter) => void) => AlertNotifier;
  /** Consumer group of the alert input. Default `flowsentry-respond`. */
  readonly groupId?: string;
  /** Quarantines and other automated responses; their ResponseActions go to the actions topic and the notifier. */
  readonly responder?: AlertResponder;
  /** How often expired responses are released. Default 15 s. */
  readonly expiryCheckMs?: number;
  readonly topics?: Partial<Record<'alerts' | 'deadLetters' | 'actions', string>>;
  readonly maxBatchMessages?: number;
  readonly now?: () => number;
}

const log = logger('respond');
const alertCodec = codecFor('Alert');
const deadLetterCodec = codecFor('DeadLetter');
const actionCodec = codecFor('ResponseAction');

/**
 * The respond stage on the bus: reads alerts and hands each to the notifier. A batch is
 * acknowledged only once every delivery it started has ended — delivered, or kept as a dead
 * letter on the dead-letter topic — so a crash never loses a notification, and the receiver
 * de-duplicates a repeat by its `webhook-id`. Detection never waits on any of this: it only wrote
 * the alert.
 *
 * With a responder, each alert also goes to it as soon as it is read (a quarantine does not wait for
 * the batch); the batch is acknowledged once every response ended, with its ResponseActions written
 * to the actions topic and handed to the notifier. A responder that throws fails the batch, which
 * is then read again: responses are idempotent per alert, so a repeat changes nothing.
 */
export class RespondWorker {
  private runner: StageRunner | undefined;
  /** The notifier's dead letters, written with the batch that made them. */
  private readonly letters: DeadLetter[] = [];
  /** Dead letters in the batch being written. */
  private writing = 0;
  private readonly notifier: AlertNotifier;
  /** Responses started in the batch being read. */
  private responses: Promise<void>[] = [];
  /** Actions of the batch being read, written with it. */
  private actions: ResponseAction[] = [];
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryProducer: BusProducer | undefined;
  private expiryRun: Promise<void> | undefined;
  /** Release actions not yet on the actions topic (the send failed): sent first at the next tick. */
  private unsentReleases: ResponseAction[] = [];

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
        const responses = this.responses;
        this.responses = [];
        const actions = this.actions;
        this.actions = [];
        // A responder that could not decide fails the batch: it is read again and decided again.
        await Promise.all(responses);
        await this.notifier.drain();
        // Kept until written: a send that fails leaves them for the batch's retry.
        this.writing = this.letters.length;
        return [
          this.letters.map((letter) => ({ topic: deadLetters, key: 'notify', value: deadLetterCodec.encode(letter) })),
          actions.map((action) => this.actionMessage(action)),
        ];
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
    if (this.options.responder) {
      this.expiryProducer = this.options.bus.producer();
      this.expiryTimer = setInterval(() => {
        // A tick while the last one still runs is skipped, not queued.
        if (this.expiryRun) return;
        this.expiryRun = this.releaseExpired().finally(() => (this.expiryRun = undefined));
      }, this.options.expiryCheckMs ?? 15_000);
      this.expiryTimer.unref();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.expiryTimer);
    await this.expiryRun;
    await this.runner?.close();
    await this.expiryProducer?.close();
    await this.notifier.close();
  }

  private get actionsTopic(): string {
    return this.options.topics?.actions ?? defaultTopics.actions;
  }

  private actionMessage(action: ResponseAction): StageOutput {
    return { topic: this.actionsTopic, key: action.action_id, value: actionCodec.encode(action) };
  }

  private respond(message: IncomingMessage): StageOutput[] {
    // A message that does not decode is dead-lettered by the runner, with the reason.
    for (const alert of alertCodec.decodeAll(message.value)) {
      this.notifier.notify(alert);
      const responder = this.options.responder;
      if (responder) {
        // Into this batch's list, even when the response ends after the batch began to close.
        const batchActions = this.actions;
        const response = responder.respond(alert).then((actions) => {
          for (const action of actions) this.notifier.notifyAction(action);
          batchActions.push(...actions);
        });
        // Handled where the batch ends; until then a failure must not count as unhandled.
        response.catch(() => undefined);
        this.responses.push(response);
      }
    }
    return [];
  }

  /**
   * Releases expired responses and writes their actions. A failure is logged and tried at the next
   * tick; actions whose release happened but whose send failed are kept and sent first then, so
   * no release goes unaudited.
   */
  private async releaseExpired(): Promise<void> {
    const every = this.options.expiryCheckMs ?? 15_000;
    try {
      const released = await this.options.responder!.releaseExpired();
      for (const action of released) this.notifier.notifyAction(action);
      this.unsentReleases.push(...released);
    } catch (error) {
      log.error(`releasing expired responses failed, tried again in ${every} ms: ${error instanceof Error ? error.message : String(error)}`, { error });
    }
    if (this.unsentReleases.length === 0) return;
    const sending = this.unsentReleases;
    try {
      await this.expiryProducer!.send(this.actionsTopic, sending.map((action) => this.actionMessage(action)));
      this.unsentReleases = this.unsentReleases.slice(sending.length);
    } catch (error) {
      log.error(`writing ${sending.length} release action(s) failed, tried again in ${every} ms: ${error instanceof Error ? error.message : String(error)}`, { error, actions: sending.length });
    }
  }

}
