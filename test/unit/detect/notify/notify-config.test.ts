import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notifyConfigProblems, parseNotifyConfig, type NotifyConfig } from '../../../../detect/notify/notify-config.js';
import { NotifyConfigError } from '../../../../detect/notify/notify-errors.js';
import { NEW_SECRET, OLD_SECRET } from './support.js';

const exampleConfig: NotifyConfig = {
  endpoints: [
    { name: 'soc-webhook', type: 'webhook', url: 'https://soc.example.com/hooks/flowsentry', secrets: [NEW_SECRET, OLD_SECRET] },
    { name: 'chat', type: 'slack', url: 'https://hooks.slack.com/services/T0TEST/B0TEST/config-check-only', retry: { maxAttempts: 4 } },
    { name: 'on-call', type: 'pagerduty', routingKey: 'R0UT1NGKEY', timeoutMs: 5_000, maxQueue: 200 },
  ],
  routes: [
    { name: 'everything', endpoints: ['soc-webhook'] },
    {
      name: 'page',
      match: { minSeverity: 'high', namespaces: ['payments'] },
      endpoints: ['on-call', 'chat'],
      rateLimit: { count: 5, perMs: 60_000 },
      groupBy: ['detector', 'source_namespace'],
      groupWindowMs: 300_000,
    },
  ],
  closeTimeoutMs: 5_000,
};

describe('Detect > notify > config', () => {
  it('accepts the example', () => {
    assert.deepEqual(notifyConfigProblems(exampleConfig), []);
    assert.equal(parseNotifyConfig(exampleConfig), exampleConfig);
  });

  it('reports every problem at once, with its path', () => {
    const bad = {
      endpoints: [
        { name: 'a', type: 'webhook', url: 'ftp://x', secrets: ['whsec_!!'] },
        { name: 'a', type: 'slack', url: 'not a url', colour: 'red' },
        { name: 'c', type: 'teams', url: 'https://x' },
        { name: 'd', type: 'pagerduty' },
      ],
      routes: [{ name: 'r', match: { minSeverity: 'urgent' }, endpoints: ['a', 'missing'], rateLimit: { count: 0 }, groupBy: ['summary'] }],
      extra: true,
    };
    assert.deepEqual(notifyConfigProblems(bad), [
      'notify.extra: unknown key (known: endpoints, routes, closeTimeoutMs, trackedAlertsPerRoute)',
      'notify.endpoints[0].url: expected an http(s) URL, got ftp:',
      'notify.endpoints[0].secrets[0]: a whsec_ secret must be followed by base64 (the key bytes)',
      'notify.endpoints[1].colour: unknown key (known: name, type, timeoutMs, maxQueue, retry, url)',
      'notify.endpoints[1].url: not a URL',
      'notify.endpoints[2].type: expected one of webhook, slack, pagerduty, got "teams"',
      'notify.endpoints[3].routingKey: missing',
      "notify.endpoints: more than one endpoint named 'a'",
      'notify.routes[0].match.minSeverity: expected one of info, low, medium, high, critical, got "urgent"',
      "notify.routes[0].endpoints[1]: no endpoint named 'missing'",
      'notify.routes[0].rateLimit: needs both count and perMs',
      'notify.routes[0].rateLimit.count: expected a positive integer, got 0',
      "notify.routes[0].groupBy[0]: 'summary' is not one of detector, severity, technique, fingerprint, source_namespace, source_workload, source_name_aggr, source_ip, dest_namespace, dest_workload, dest_name_aggr, dest_ip, dest_port, indicator, feed",
      'notify.routes[0].groupBy: has no effect without groupWindowMs',
    ]);
    assert.throws(() => parseNotifyConfig(bad), (error: unknown) => error instanceof NotifyConfigError && error.problems.length === 14);
  });

  it('wants a secret for a webhook, and leaves webhook-* headers to the signer', () => {
    assert.deepEqual(notifyConfigProblems({ endpoints: [{ name: 'w', type: 'webhook', url: 'https://x', headers: { 'Webhook-Id': 'x' } }], routes: [] }), [
      'notify.endpoints[0].secrets: missing (at least one secret; two while rotating)',
      'notify.endpoints[0].headers.Webhook-Id: webhook-* headers are set by the signer',
    ]);
  });
});
