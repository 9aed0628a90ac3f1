import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { NotifyConfig, RouteConfig, WebhookEndpointConfig } from '../../../../detect/notify/notify-config.js';
import { Notifier } from '../../../../detect/notify/notifier.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';
import { toJson } from '../../../../schemas/json.js';
import type { Alert, DeadLetter } from '../../../../schemas/types.js';
import { waitFor } from '../../../support/wait.js';
import { alertOf, closedPortUrl, gate, NEW_SECRET, OLD_SECRET, TestClock, TestReceiver, type ReceiverOptions } from './support.js';

const SECRETS = [NEW_SECRET, OLD_SECRET];

interface Rig {
  readonly notifier: Notifier;
  readonly clock: TestClock;
  readonly metrics: MetricsRegistry;
  readonly deadLetters: DeadLetter[];
}

function rig(t: TestContext, config: NotifyConfig, clock = new TestClock()): Rig {
  const deadLetters: DeadLetter[] = [];
  const metrics = new MetricsRegistry();
  const notifier = new Notifier({ config, onDeadLetter: (letter) => deadLetters.push(letter), metrics, clock, random: () => 0.5 });
  t.after(() => notifier.close());
  return { notifier, clock, metrics, deadLetters };
}

/** A receiver that checks every request against each secret of a rotation on its own. */
async function receiver(t: TestContext, clock: TestClock, options: Omit<ReceiverOptions, 'now' | 'verifyWith'> = {}, verify = true): Promise<TestReceiver> {
  const started = await TestReceiver.start({ ...options, now: () => clock.now(), ...(verify ? { verifyWith: [[OLD_SECRET], [NEW_SECRET]] } : {}) });
  t.after(() => started.close());
  return started;
}

const webhook = (url: string, changes: Partial<WebhookEndpointConfig> = {}): WebhookEndpointConfig => ({
  name: 'soc',
  type: 'webhook',
  url,
  secrets: SECRETS,
  retry: { baseDelayMs: 1, maxAttempts: 4 },
  ...changes,
});

const oneRoute = (endpoints: NotifyConfig['endpoints'], route: Partial<RouteConfig> = {}): NotifyConfig => ({
  endpoints,
  routes: [{ name: 'all', endpoints: endpoints.map((endpoint) => endpoint.name), ...route }],
});

const opened = (n: number, changes: Partial<Alert> = {}) => alertOf({ revision: 0, detector: 'scan', ...changes }, n);
const eventOf = (request: { json: unknown }) => request.json as { type: string; data: Record<string, unknown> };

describe('Detect > notify > notifier', () => {
  describe('generic webhook', () => {
    it('delivers each alert once, signed with both secrets of a rotation', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock);
      const { notifier, metrics, deadLetters } = rig(t, oneRoute([webhook(hook.url())]), clock);
      const alerts = [opened(1), opened(2), alertOf({ revision: 3 })];
      for (const alert of alerts) notifier.notify(alert);
      await notifier.drain();
      assert.deepEqual(hook.signatureFailures, []);
      assert.deepEqual(
        hook.delivered.map((request) => [request.headers['webhook-id'], eventOf(request).type, eventOf(request).data]),
        alerts.map((alert) => [`${alert.alert_id}.${alert.revision}`, alert.revision === 0 ? 'alert.opened' : 'alert.updated', toJson('Alert', alert)]),
      );
      assert.deepEqual(deadLetters, []);
      assert.equal(metrics.counter('flowsentry_notify_deliveries_total', '').get({ endpoint: 'soc', outcome: 'delivered' }), 3);
      assert.equal(metrics.counter('flowsentry_notify_alerts_total', '').get({ route: 'all', outcome: 'sent' }), 3);
      assert.equal(metrics.gauge('flowsentry_notify_queue_depth', '').get({ endpoint: 'soc' }), 0);
    });

    it('keeps the webhook-id and body across a retry, re-signed with a fresh timestamp', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock, { answer: ({ index }) => ({ status: index === 0 ? 500 : 204 }) });
      const { notifier, metrics } = rig(t, oneRoute([webhook(hook.url(), { retry: { baseDelayMs: 4_000 } })]), clock);
      notifier.notify(opened(1));
      await notifier.drain();
      const [first, second] = hook.requests;
      assert.ok(first && second && hook.requests.length === 2);
      assert.deepEqual(hook.signatureFailures, []);
      assert.equal(first.headers['webhook-id'], second.headers['webhook-id']);
      assert.equal(first.body, second.body);
      assert.deepEqual(clock.sleeps, [2_000], 'full jitter: random 0.5 of the 4 s first back-off');
      assert.ok(Number(second.headers['webhook-timestamp']) >= Number(first.headers['webhook-timestamp']) + 1);
      assert.notEqual(first.headers['webhook-signature'], second.headers['webhook-signature']);
      assert.deepEqual(hook.deliveredIds, [`${opened(1).alert_id}.0`]);
      assert.equal(metrics.counter('flowsentry_notify_retries_total', '').get({ endpoint: 'soc' }), 1);
    });

    it('waits what Retry-After asks on 503 (seconds) and 429 (HTTP date), then delivers', async (t) => {
      const clock = new TestClock();
      const answers = [
        () => ({ status: 503, headers: { 'retry-after': '3' } }),
        () => ({ status: 429, headers: { 'retry-after': new Date(clock.now() + 20_000).toUTCString() } }),
        () => ({ status: 200 }),
      ];
      const hook = await receiver(t, clock, { answer: ({ index }) => (answers[index] ?? answers[2]!)() });
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url())]), clock);
      notifier.notify(opened(1));
      await notifier.drain();
      assert.equal(hook.requests.length, 3);
      assert.equal(hook.delivered.length, 1);
      assert.equal(clock.sleeps[0], 3_000);
      assert.ok(clock.sleeps[1]! > 18_000 && clock.sleeps[1]! <= 20_000, `waited ${clock.sleeps[1]} ms for a date 20 s ahead`);
      assert.deepEqual(deadLetters, []);
    });

    it('gives up at once when Retry-After points past the time budget', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock, { answer: () => ({ status: 429, headers: { 'retry-after': '3600' } }) });
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url())]), clock);
      notifier.notify(opened(1));
      await notifier.drain();
      assert.equal(hook.requests.length, 1);
      assert.equal(deadLetters[0]?.reason, 'NOTIFY_FAILED');
      assert.match(deadLetters[0]?.message ?? '', /a retry in 3600\.0 s would pass the 120 s budget; last: HTTP 429 Too Many Requests/);
    });

    it('disables an endpoint that answers 410 Gone and dead-letters what it would have sent, other endpoints unaffected', async (t) => {
      const clock = new TestClock();
      const gone = await receiver(t, clock, { answer: () => ({ status: 410 }) });
      const alive = await receiver(t, clock);
      const config = oneRoute([webhook(gone.url(), { name: 'gone' }), webhook(alive.url(), { name: 'alive' })]);
      const { notifier, metrics, deadLetters } = rig(t, config, clock);
      for (const n of [1, 2, 3]) notifier.notify(opened(n));
      await notifier.drain();
      notifier.notify(opened(4));
      await notifier.drain();
      assert.equal(gone.requests.length, 1, 'nothing is sent after the 410');
      assert.equal(alive.delivered.length, 4);
      assert.deepEqual(
        deadLetters.map((letter) => [letter.reason, letter.retriable]),
        Array.from({ length: 4 }, () => ['NOTIFY_ENDPOINT_GONE', false]),
      );
      assert.match(deadLetters[0]!.message, /^endpoint 'gone' \(webhook, 127\.0\.0\.1:\d+\): message scan:1:1530810851000\.0 refused with HTTP 410 Gone; endpoint disabled$/);
      assert.match(deadLetters[3]!.message, /disabled after it answered HTTP 410 Gone to message scan:1:1530810851000\.0; not sent/);
      assert.equal(metrics.gauge('flowsentry_notify_endpoint_disabled', '').get({ endpoint: 'gone' }), 1);
      assert.equal(metrics.counter('flowsentry_notify_dead_letters_total', '').get({ endpoint: 'gone', reason: 'NOTIFY_ENDPOINT_GONE' }), 4);
    });

    it('dead-letters a permanent 4xx after one attempt, with the status, the answer and the body it sent', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock, { answer: () => ({ status: 400, body: 'invalid_payload' }) });
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url())]), clock);
      notifier.notify(opened(1));
      await notifier.drain();
      assert.equal(hook.requests.length, 1);
      const [letter] = deadLetters;
      assert.ok(letter);
      assert.deepEqual(
        { ...letter, original: JSON.parse(letter.original.toString('utf8')) as unknown, failed_at: 0 },
        {
          reason: 'NOTIFY_REJECTED',
          message: `endpoint 'soc' (webhook, ${new URL(hook.url()).host}): message scan:1:1530810851000.0 refused permanently with HTTP 400 Bad Request: invalid_payload`,
          retriable: false,
          stage: 'notify',
          record_type: 'Alert',
          source: { topic: null, partition: null, offset: null, position: null, file: null, line: null },
          original: hook.requests[0]!.json,
          failed_at: 0,
        },
      );
    });

    it('retries a network error up to maxAttempts, then dead-letters it as retriable', async (t) => {
      const { notifier, clock, metrics, deadLetters } = rig(t, oneRoute([webhook(await closedPortUrl(), { retry: { baseDelayMs: 1, maxAttempts: 3 } })]));
      notifier.notify(opened(1));
      await notifier.drain();
      assert.equal(clock.sleeps.length, 2);
      assert.equal(deadLetters.length, 1);
      assert.equal(deadLetters[0]?.reason, 'NOTIFY_FAILED');
      assert.equal(deadLetters[0]?.retriable, true);
      assert.match(deadLetters[0]?.message ?? '', /message scan:1:1530810851000\.0 failed 3 attempts over [\d.]+ s; last: network error ECONNREFUSED/);
      assert.equal(metrics.counter('flowsentry_notify_retries_total', '').get({ endpoint: 'soc' }), 2);
    });

    it('retries an attempt that timed out, under the same id', async (t) => {
      const clock = new TestClock();
      const never = gate();
      t.after(() => never.open());
      const hook = await receiver(t, clock, { answer: async ({ index }) => (index === 0 ? (await never.opened, { status: 500 }) : { status: 200 }) });
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url(), { timeoutMs: 50 })]), clock);
      notifier.notify(opened(1));
      await notifier.drain();
      assert.equal(hook.requests.length, 2);
      assert.equal(hook.requests[0]!.headers['webhook-id'], hook.requests[1]!.headers['webhook-id']);
      assert.deepEqual(hook.deliveredIds, [`${opened(1).alert_id}.0`]);
      assert.deepEqual(deadLetters, []);
    });
  });

  describe('never blocking detection', () => {
    it('returns from notify while a slow receiver holds the first delivery, then sends the rest in order', async (t) => {
      const clock = new TestClock();
      const release = gate();
      const hook = await receiver(t, clock, { answer: async () => (await release.opened, { status: 200 }) });
      const { notifier, metrics } = rig(t, oneRoute([webhook(hook.url())]), clock);
      for (const n of [1, 2, 3, 4, 5]) notifier.notify(opened(n));
      await waitFor(() => hook.requests.length === 1, { timeoutMs: 5_000, intervalMs: 5, description: 'the first request' });
      assert.equal(metrics.gauge('flowsentry_notify_queue_depth', '').get({ endpoint: 'soc' }), 4);
      release.open();
      await notifier.drain();
      assert.deepEqual(hook.deliveredIds, [1, 2, 3, 4, 5].map((n) => `${opened(n).alert_id}.0`));
    });

    it('dead-letters beyond a full queue instead of waiting', async (t) => {
      const clock = new TestClock();
      const release = gate();
      const hook = await receiver(t, clock, { answer: async () => (await release.opened, { status: 200 }) });
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url(), { maxQueue: 2 })]), clock);
      for (const n of [1, 2, 3, 4, 5]) notifier.notify(opened(n));
      assert.deepEqual(
        deadLetters.map((letter) => [letter.reason, letter.retriable]),
        [
          ['NOTIFY_QUEUE_FULL', true],
          ['NOTIFY_QUEUE_FULL', true],
        ],
      );
      assert.match(deadLetters[0]!.message, /queue full \(2 waiting\), message scan:4:1530810851000\.0 not sent/);
      release.open();
      await notifier.drain();
      assert.equal(hook.delivered.length, 3);
    });

    it('never throws, even for an alert that does not match the schema', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock);
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url())]), clock);
      assert.doesNotThrow(() => notifier.notify(opened(1, { severity: 'severe' as Alert['severity'] })));
      assert.doesNotThrow(() => notifier.notify(null as unknown as Alert));
      await notifier.drain();
      assert.deepEqual(
        deadLetters.map((letter) => letter.reason),
        ['NOTIFY_ENCODE_FAILED', 'NOTIFY_FAILED'],
      );
      assert.match(deadLetters[0]!.message, /invalid Alert record: severity/);
      assert.equal(hook.requests.length, 0);
    });
  });

  describe('routes', () => {
    it('pages once for a storm of 500 alerts, then sends one digest at the window end', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock);
      const pagerduty = await receiver(t, clock, { answer: () => ({ status: 202, body: '{"status":"success"}' }) }, false);
      const config = oneRoute(
        [webhook(hook.url()), { name: 'on-call', type: 'pagerduty', routingKey: 'RK', url: pagerduty.url('/v2/enqueue') }],
        { groupBy: ['detector'], groupWindowMs: 300_000, rateLimit: { count: 10, perMs: 60_000 } },
      );
      const { notifier, metrics } = rig(t, config, clock);
      for (let n = 0; n < 500; n += 1) notifier.notify(opened(n));
      await notifier.drain();
      assert.equal(hook.delivered.length, 1);
      assert.equal(pagerduty.delivered.length, 1);
      clock.advance(300_000);
      await notifier.drain();
      assert.deepEqual(hook.signatureFailures, []);
      assert.deepEqual(
        hook.delivered.map((request) => eventOf(request).type),
        ['alert.opened', 'alert.digest'],
      );
      const digest = eventOf(hook.delivered[1]!).data;
      assert.deepEqual([digest.count, digest.opened, digest.group, (digest.alerts as unknown[]).length, digest.omitted], [499, 499, { detector: 'scan' }, 10, 489]);
      const pages = pagerduty.delivered.map((request) => request.json as { event_action: string; dedup_key: string });
      assert.deepEqual(
        pages.map((page) => [page.event_action, page.dedup_key]),
        [
          ['trigger', 'scan:0'],
          ['trigger', 'scan:0'],
        ],
        "the digest lands on the first page's incident",
      );
      assert.equal(metrics.counter('flowsentry_notify_alerts_total', '').get({ route: 'all', outcome: 'grouped' }), 499);
      assert.equal(metrics.counter('flowsentry_notify_digests_total', '').get({ route: 'all' }), 1);
    });

    it('sends each alert to the endpoints of every route it matches, once per endpoint', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock);
      const config: NotifyConfig = {
        endpoints: [webhook(hook.url())],
        routes: [
          { name: 'all', endpoints: ['soc'] },
          { name: 'high', match: { minSeverity: 'high' }, endpoints: ['soc'] },
        ],
      };
      const { notifier, metrics } = rig(t, config, clock);
      notifier.notify(opened(1, { severity: 'high' }));
      notifier.notify(opened(2, { severity: 'low' }));
      await notifier.drain();
      assert.deepEqual(hook.deliveredIds, [`${opened(1).alert_id}.0`, `${opened(2).alert_id}.0`]);
      assert.equal(metrics.counter('flowsentry_notify_alerts_total', '').get({ route: 'high', outcome: 'sent' }), 1);
    });
  });

  describe('PagerDuty and Slack', () => {
    it('triggers, updates and resolves a PagerDuty alert under one dedup_key', async (t) => {
      const clock = new TestClock();
      const pagerduty = await receiver(t, clock, { answer: () => ({ status: 202, body: '{"status":"success","dedup_key":"x"}' }) }, false);
      const { notifier, deadLetters } = rig(t, oneRoute([{ name: 'on-call', type: 'pagerduty', routingKey: 'RK', url: pagerduty.url('/v2/enqueue') }]), clock);
      notifier.notify(alertOf({ revision: 0 }));
      notifier.notify(alertOf({ revision: 1, severity: 'critical' }));
      notifier.notify(alertOf({ revision: 2, status: 'resolved' }));
      await notifier.drain();
      const events = pagerduty.delivered.map((request) => request.json as Record<string, unknown> & { payload?: { severity: string } });
      assert.deepEqual(
        events.map((event) => [event.event_action, event.dedup_key, event.routing_key, event.payload?.severity]),
        [
          ['trigger', 'ioc:8f3a1c0d9e2b4a17', 'RK', 'error'],
          ['trigger', 'ioc:8f3a1c0d9e2b4a17', 'RK', 'critical'],
          ['resolve', 'ioc:8f3a1c0d9e2b4a17', 'RK', undefined],
        ],
      );
      assert.deepEqual(Object.keys(events[2]!), ['routing_key', 'event_action', 'dedup_key']);
      assert.ok(pagerduty.delivered.every((request) => request.path === '/v2/enqueue' && request.headers['content-type'] === 'application/json'));
      assert.deepEqual(deadLetters, []);
    });

    it('posts Slack a text and blocks, unsigned', async (t) => {
      const clock = new TestClock();
      const slack = await receiver(t, clock, { answer: () => ({ status: 200, body: 'ok' }) }, false);
      const { notifier } = rig(t, oneRoute([{ name: 'chat', type: 'slack', url: slack.url('/services/T0/B0/X') }]), clock);
      notifier.notify(alertOf({ revision: 0 }));
      await notifier.drain();
      const [request] = slack.delivered;
      assert.ok(request);
      const body = request.json as { text: string; blocks: { type: string }[] };
      assert.deepEqual(Object.keys(body), ['text', 'blocks']);
      assert.match(body.text, /^\[HIGH\] ioc: /);
      assert.deepEqual(
        body.blocks.map((block) => block.type),
        ['header', 'section', 'section', 'context'],
      );
      assert.equal(request.headers['webhook-signature'], undefined);
    });
  });

  describe('close', () => {
    it('sends what group windows hold before it returns, and dead-letters alerts that come later', async (t) => {
      const clock = new TestClock();
      const hook = await receiver(t, clock);
      const { notifier, deadLetters } = rig(t, oneRoute([webhook(hook.url())], { groupWindowMs: 60_000 }), clock);
      for (const n of [1, 2, 3]) notifier.notify(opened(n));
      await notifier.close();
      assert.deepEqual(
        hook.delivered.map((request) => eventOf(request).type),
        ['alert.opened', 'alert.digest'],
      );
      assert.equal(clock.pendingTimers, 0);
      notifier.notify(opened(4));
      assert.deepEqual(
        deadLetters.map((letter) => letter.reason),
        ['NOTIFY_CLOSED'],
      );
    });

    it('stops waiting after closeTimeoutMs and dead-letters what is in flight or queued', async (t) => {
      const clock = new TestClock();
      const release = gate();
      t.after(() => release.open());
      const hook = await receiver(t, clock, { answer: async () => (await release.opened, { status: 200 }) });
      const { notifier, deadLetters } = rig(t, { ...oneRoute([webhook(hook.url())]), closeTimeoutMs: 1_000 }, clock);
      for (const n of [1, 2, 3]) notifier.notify(opened(n));
      await waitFor(() => hook.requests.length === 1, { timeoutMs: 5_000, intervalMs: 5, description: 'the first request' });
      const closing = notifier.close();
      clock.advance(1_000);
      await closing;
      assert.deepEqual(
        deadLetters.map((letter) => letter.reason),
        ['NOTIFY_SHUTDOWN', 'NOTIFY_SHUTDOWN', 'NOTIFY_SHUTDOWN'],
      );
      assert.equal(hook.delivered.length, 0);
    });
  });

  it('refuses an invalid config at construction, listing every problem', () => {
    assert.throws(
      () => new Notifier({ config: { endpoints: [], routes: [{ name: 'r', endpoints: ['nowhere'] }] }, onDeadLetter: () => {} }),
      /invalid notify config: notify\.routes\[0\]\.endpoints\[0\]: no endpoint named 'nowhere'/,
    );
  });
});
