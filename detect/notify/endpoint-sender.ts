/**
 * One endpoint's queue, sent in order one message at a time, each retried per the endpoint's
 * retry policy until it is delivered or settled as a dead letter. A 410 Gone disables the
 * endpoint: what is queued and whatever comes later is dead-lettered without a request.
 */
import { logger } from '../../runtime/log.js';
import type { PreparedMessage } from './endpoint-format.js';
import type { HttpPost, PostResult } from './http-post.js';
import type { NotifyClock } from './notify-clock.js';
import type { NotifyDeadLetterReason } from './notify-errors.js';
import { describeResult, nextDelay, verdictOf, type RetryPolicy } from './retry-policy.js';

const log = logger('notify');

export interface Delivery {
  readonly message: PreparedMessage;
  /** Named in the dead letter: Alert, or AlertDigest. */
  readonly recordType: string;
}

export type DeliveryOutcome =
  | { readonly kind: 'delivered'; readonly attempts: number }
  | { readonly kind: 'dead'; readonly reason: NotifyDeadLetterReason; readonly message: string };

export interface EndpointSenderOptions {
  readonly url: string;
  /** How messages name the endpoint (see describeEndpoint). */
  readonly description: string;
  readonly timeoutMs: number;
  readonly maxQueue: number;
  readonly retry: RetryPolicy;
  readonly post: HttpPost;
  readonly clock: NotifyClock;
  readonly random: () => number;
  /** Aborts in-flight requests and back-offs when the notifier stops waiting at close. */
  readonly signal: AbortSignal;
  readonly onSettled: (delivery: Delivery, outcome: DeliveryOutcome) => void;
  readonly onRetry: () => void;
  readonly onQueueDepth: (depth: number) => void;
  readonly onDisabled: () => void;
}

export class EndpointSender {
  private readonly queue: Delivery[] = [];
  private running: Promise<void> | undefined;
  private goneBecause: string | undefined;

  constructor(private readonly options: EndpointSenderOptions) {}

  get disabled(): boolean {
    return this.goneBecause !== undefined;
  }

  /** A delivery is queued or in flight. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Queues a delivery, or settles it at once when the endpoint is disabled or its queue is full. */
  enqueue(delivery: Delivery): void {
    if (this.goneBecause !== undefined) {
      this.settle(delivery, this.goneOutcome());
      return;
    }
    if (this.queue.length >= this.options.maxQueue) {
      this.settle(delivery, {
        kind: 'dead',
        reason: 'NOTIFY_QUEUE_FULL',
        message: `${this.options.description}: queue full (${this.options.maxQueue} waiting), message ${delivery.message.id} not sent`,
      });
      return;
    }
    this.queue.push(delivery);
    this.options.onQueueDepth(this.queue.length);
    this.running ??= this.run();
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Settles everything still queued as `reason` (at close, once waiting is over). */
  abandon(reason: NotifyDeadLetterReason, detail: string): void {
    for (const delivery of this.queue.splice(0)) {
      this.settle(delivery, { kind: 'dead', reason, message: `${this.options.description}: ${detail}, message ${delivery.message.id} not sent` });
    }
    this.options.onQueueDepth(0);
  }

  private async run(): Promise<void> {
    try {
      for (let delivery = this.queue.shift(); delivery; delivery = this.queue.shift()) {
        this.options.onQueueDepth(this.queue.length);
        let outcome: DeliveryOutcome;
        try {
          outcome = await this.deliver(delivery.message);
        } catch (error) {
          outcome = { kind: 'dead', reason: 'NOTIFY_FAILED', message: `${this.options.description}: ${error instanceof Error ? error.message : String(error)}` };
        }
        this.settle(delivery, outcome);
        if (this.goneBecause !== undefined) for (const queued of this.queue.splice(0)) this.settle(queued, this.goneOutcome());
      }
    } finally {
      this.options.onQueueDepth(0);
      this.running = undefined;
    }
  }

  private settle(delivery: Delivery, outcome: DeliveryOutcome): void {
    try {
      this.options.onSettled(delivery, outcome);
    } catch (error) {
      log.error(`handling the outcome of message ${delivery.message.id} failed`, { error, message_id: delivery.message.id });
    }
  }

  private goneOutcome(): DeliveryOutcome {
    return { kind: 'dead', reason: 'NOTIFY_ENDPOINT_GONE', message: `${this.options.description}: disabled after ${this.goneBecause}; not sent` };
  }

  private dead(reason: NotifyDeadLetterReason, id: string, detail: string): DeliveryOutcome {
    return { kind: 'dead', reason, message: `${this.options.description}: message ${id} ${detail}` };
  }

  private async deliver(message: PreparedMessage): Promise<DeliveryOutcome> {
    const { url, timeoutMs, retry, post, clock, random, signal } = this.options;
    const started = clock.now();
    const elapsed = () => `${((clock.now() - started) / 1000).toFixed(1)} s`;
    for (let attempt = 1; ; attempt += 1) {
      const result: PostResult = await post({ url, headers: message.headers(clock.now()), body: message.body, timeoutMs, signal });
      const last = describeResult(result);
      switch (verdictOf(result)) {
        case 'delivered':
          return { kind: 'delivered', attempts: attempt };
        case 'aborted':
          return this.dead('NOTIFY_SHUTDOWN', message.id, `abandoned at close during attempt ${attempt}`);
        case 'gone':
          this.goneBecause = `it answered ${last} to message ${message.id}`;
          this.options.onDisabled();
          return this.dead('NOTIFY_ENDPOINT_GONE', message.id, `refused with ${last}; endpoint disabled`);
        case 'rejected':
          return this.dead('NOTIFY_REJECTED', message.id, `refused permanently with ${last}`);
        case 'retry':
          break;
      }
      if (attempt >= retry.maxAttempts) return this.dead('NOTIFY_FAILED', message.id, `failed ${attempt} attempts over ${elapsed()}; last: ${last}`);
      const delay = nextDelay(result, attempt, retry, clock.now(), random);
      if (clock.now() + delay - started > retry.maxElapsedMs) {
        return this.dead(
          'NOTIFY_FAILED',
          message.id,
          `failed ${attempt} attempt(s) over ${elapsed()}; a retry in ${(delay / 1000).toFixed(1)} s would pass the ${retry.maxElapsedMs / 1000} s budget; last: ${last}`,
        );
      }
      this.options.onRetry();
      await clock.sleep(delay, signal);
      if (signal.aborted) return this.dead('NOTIFY_SHUTDOWN', message.id, `abandoned at close after ${attempt} attempt(s); last: ${last}`);
    }
  }
}
