/**
 * The notifier: routes decide (route-gate.ts), formats encode (one per endpoint type), and each
 * endpoint's sender delivers in the background with retries. notify() only enqueues, so detection
 * never waits on a receiver; every message that cannot be delivered ends as a DeadLetter (stage
 * `notify`) handed to onDeadLetter.
 */
import { logger } from '../../runtime/log.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import type { Alert, DeadLetter, ResponseAction } from '../../schemas/types.js';
import type { AlertNotifier } from './alert-notifier.js';
import type { EndpointFormat } from './endpoint-format.js';
import { describeEndpoint, formatFor, urlOf } from './endpoint-formats.js';
import { EndpointSender, type Delivery, type DeliveryOutcome } from './endpoint-sender.js';
import { fetchPost, type HttpPost } from './http-post.js';
import { parseNotifyConfig, type NotifyConfig, type NotifyEndpointConfig } from './notify-config.js';
import { systemClock, type NotifyClock } from './notify-clock.js';
import { retriableNotifyReasons, type NotifyDeadLetterReason } from './notify-errors.js';
import type { DigestNotification, Notification } from './notification.js';
import { defaultRetryPolicy } from './retry-policy.js';
import { RouteGate } from './route-gate.js';

export interface NotifierOptions {
  /** Checked at construction: a NotifyConfigError lists every problem. */
  readonly config: NotifyConfig;
  /** Receives every message that could not be delivered. Called from background work: it should not throw. */
  readonly onDeadLetter: (deadLetter: DeadLetter) => void;
  readonly metrics?: MetricsRegistry;
  readonly clock?: NotifyClock;
  /** For back-off jitter, in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** HTTP transport (default: global fetch). */
  readonly post?: HttpPost;
}

interface Endpoint {
  readonly config: NotifyEndpointConfig;
  readonly format: EndpointFormat;
  readonly sender: EndpointSender;
}

const log = logger('notify');
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_QUEUE = 1_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** Action notifications remembered for de-duplication: far more than a batch re-read can repeat. */
const ACTIONS_REMEMBERED = 10_000;
const NO_SOURCE = { topic: null, partition: null, offset: null, position: null, file: null, line: null };

function metricsOf(registry: MetricsRegistry | undefined) {
  if (!registry) return undefined;
  return {
    alerts: registry.counter('flowsentry_notify_alerts_total', 'Alert revisions a route took, by route and outcome (sent, grouped, rate_limited, duplicate).'),
    actions: registry.counter('flowsentry_notify_actions_total', 'Response actions handed to the routes, by outcome (sent, duplicate: already sent).'),
    digests: registry.counter('flowsentry_notify_digests_total', 'Digests of held alerts, by route.'),
    deliveries: registry.counter('flowsentry_notify_deliveries_total', 'Messages settled, by endpoint and outcome (delivered, dead, skipped).'),
    retries: registry.counter('flowsentry_notify_retries_total', 'Attempts after the first, by endpoint.'),
    deadLetters: registry.counter('flowsentry_notify_dead_letters_total', 'Messages not delivered, by endpoint and reason.'),
    queueDepth: registry.gauge('flowsentry_notify_queue_depth', 'Messages waiting, by endpoint.'),
    disabled: registry.gauge('flowsentry_notify_endpoint_disabled', '1 once an endpoint answered 410 Gone, by endpoint.'),
  };
}

function bestEffortJson(value: unknown): Buffer {
  try {
    return Buffer.from(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? String(item) : item)) ?? 'null', 'utf8');
  } catch {
    return Buffer.from(String(value), 'utf8');
  }
}

export class Notifier implements AlertNotifier {
  private readonly config: NotifyConfig;
  private readonly clock: NotifyClock;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly gates: RouteGate[];
  private readonly metrics;
  private readonly stop = new AbortController();
  private timer: { readonly at: number; readonly cancel: () => void } | undefined;
  private closed = false;
  /** Action notifications sent lately (`<action_id>.<status>`), oldest first. */
  private readonly actionsSent = new Set<string>();

  constructor(private readonly options: NotifierOptions) {
    this.config = parseNotifyConfig(options.config);
    this.clock = options.clock ?? systemClock;
    this.metrics = metricsOf(options.metrics);
    const now = this.clock.now();
    for (const config of this.config.endpoints) this.endpoints.set(config.name, this.endpointOf(config));
    this.gates = this.config.routes.map((route) => new RouteGate(route, now, this.config.trackedAlertsPerRoute));
  }

  notify(alert: Alert): void {
    try {
      if (this.closed) {
        this.deadLetter(undefined, 'NOTIFY_CLOSED', `alert ${alert.alert_id} revision ${alert.revision ?? 0} came after close`, bestEffortJson(alert), 'Alert');
        return;
      }
      const now = this.clock.now();
      const queued = new Set<string>();
      for (const gate of this.gates) {
        const { outcome, notification } = gate.offer(alert, now);
        if (outcome !== 'unmatched') this.metrics?.alerts.inc({ route: gate.name, outcome });
        if (notification) this.dispatch(gate, notification, queued);
      }
      this.armTimer(now);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.deadLetter(undefined, 'NOTIFY_FAILED', `alert ${alert?.alert_id} could not be routed: ${detail}`, bestEffortJson(alert), 'Alert');
    }
  }

  notifyAction(action: ResponseAction): void {
    try {
      // A batch read again states its actions again: each action and outcome is sent once.
      const key = `${action.action_id}.${action.status}`;
      if (this.actionsSent.has(key)) {
        this.metrics?.actions.inc({ outcome: 'duplicate' });
        return;
      }
      this.actionsSent.add(key);
      if (this.actionsSent.size > ACTIONS_REMEMBERED) this.actionsSent.delete(this.actionsSent.values().next().value as string);
      this.metrics?.actions.inc({ outcome: 'sent' });
      if (this.closed) {
        this.deadLetter(undefined, 'NOTIFY_CLOSED', `action ${action.action_id} (${action.status}) came after close`, bestEffortJson(action), 'ResponseAction');
        return;
      }
      const createdAt = this.clock.now();
      const queued = new Set<string>();
      for (const gate of this.gates) {
        const { route } = gate;
        if (route.actions === false) continue;
        const namespaces = route.match?.namespaces;
        if (namespaces && !namespaces.includes(action.target.namespace ?? '')) continue;
        this.dispatch(gate, { kind: 'action', route: route.name, action, createdAt }, queued);
      }
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.deadLetter(undefined, 'NOTIFY_FAILED', `action ${action?.action_id} could not be routed: ${detail}`, bestEffortJson(action), 'ResponseAction');
    }
  }

  async drain(): Promise<void> {
    const senders = [...this.endpoints.values()].map(({ sender }) => sender);
    // a group window closing meanwhile may start a sender again: look until all are idle at once
    do {
      await Promise.all(senders.map((sender) => sender.idle()));
    } while (senders.some((sender) => sender.busy));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    const now = this.clock.now();
    for (const gate of this.gates) for (const digest of gate.closeAllWindows(now)) this.dispatchDigest(gate, digest);
    const timeoutMs = this.config.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    let cancelWait: (() => void) | undefined;
    const waited = await Promise.race([
      this.drain().then(() => true),
      new Promise<false>((resolve) => {
        cancelWait = this.clock.setTimer(timeoutMs, () => resolve(false));
      }),
    ]);
    cancelWait?.();
    if (waited) return;
    this.stop.abort();
    for (const { sender } of this.endpoints.values()) sender.abandon('NOTIFY_SHUTDOWN', `still queued ${timeoutMs} ms after close`);
    await this.drain();
  }

  private endpointOf(config: NotifyEndpointConfig): Endpoint {
    const labels = { endpoint: config.name };
    const description = describeEndpoint(config);
    const sender = new EndpointSender({
      url: urlOf(config),
      description,
      timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxQueue: config.maxQueue ?? DEFAULT_MAX_QUEUE,
      retry: { ...defaultRetryPolicy, ...config.retry },
      post: this.options.post ?? fetchPost,
      clock: this.clock,
      random: this.options.random ?? Math.random,
      signal: this.stop.signal,
      onSettled: (delivery, outcome) => this.settled(config.name, delivery, outcome),
      onRetry: () => this.metrics?.retries.inc(labels),
      onQueueDepth: (depth) => this.metrics?.queueDepth.set(depth, labels),
      onDisabled: () => this.metrics?.disabled.set(1, labels),
    });
    return { config, format: formatFor(config), sender };
  }

  private settled(endpoint: string, delivery: Delivery, outcome: DeliveryOutcome): void {
    this.metrics?.deliveries.inc({ endpoint, outcome: outcome.kind });
    if (outcome.kind === 'dead') this.deadLetter(endpoint, outcome.reason, outcome.message, Buffer.from(delivery.message.body, 'utf8'), delivery.recordType);
  }

  /** Hands a notification to each endpoint of its route, once per endpoint and message id. */
  private dispatch(gate: RouteGate, notification: Notification, queued = new Set<string>()): void {
    const recordType = notification.kind === 'alert' ? 'Alert' : notification.kind === 'action' ? 'ResponseAction' : 'AlertDigest';
    for (const name of gate.route.endpoints) {
      const endpoint = this.endpoints.get(name) as Endpoint;
      let message;
      try {
        message = endpoint.format(notification);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        const original = bestEffortJson(notification.kind === 'alert' ? notification.alert : notification.kind === 'action' ? notification.action : notification);
        this.deadLetter(name, 'NOTIFY_ENCODE_FAILED', `${describeEndpoint(endpoint.config)}: ${detail}`, original, recordType);
        continue;
      }
      if (message === null) {
        this.metrics?.deliveries.inc({ endpoint: name, outcome: 'skipped' });
        continue;
      }
      const key = `${name}\n${message.id}`;
      if (queued.has(key)) continue;
      queued.add(key);
      endpoint.sender.enqueue({ message, recordType });
    }
  }

  private dispatchDigest(gate: RouteGate, digest: DigestNotification): void {
    this.metrics?.digests.inc({ route: gate.name });
    this.dispatch(gate, digest);
  }

  /** Keeps one timer, at the end of the earliest open group window. */
  private armTimer(now: number): void {
    let next: number | undefined;
    for (const gate of this.gates) {
      const end = gate.nextWindowEnd();
      if (end !== undefined && (next === undefined || end < next)) next = end;
    }
    if (next === this.timer?.at) return;
    this.timer?.cancel();
    this.timer = undefined;
    if (next === undefined || this.closed) return;
    this.timer = { at: next, cancel: this.clock.setTimer(Math.max(0, next - now), () => this.windowsDue()) };
  }

  private windowsDue(): void {
    this.timer = undefined;
    try {
      const now = this.clock.now();
      for (const gate of this.gates) for (const digest of gate.closeDueWindows(now)) this.dispatchDigest(gate, digest);
      this.armTimer(now);
    } catch (error) {
      log.error('closing group windows failed', { error });
    }
  }

  private deadLetter(endpoint: string | undefined, reason: NotifyDeadLetterReason, message: string, original: Buffer, recordType: string): void {
    this.metrics?.deadLetters.inc({ endpoint: endpoint ?? '', reason });
    const deadLetter: DeadLetter = {
      reason,
      message,
      retriable: retriableNotifyReasons.has(reason),
      stage: 'notify',
      record_type: recordType,
      source: { ...NO_SOURCE },
      original,
      failed_at: this.clock.now(),
    };
    try {
      this.options.onDeadLetter(deadLetter);
    } catch (error) {
      log.error(`onDeadLetter threw on a ${reason} dead letter (${message})`, { error, reason });
    }
  }
}
