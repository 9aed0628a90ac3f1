import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DigestNotification } from '../../../../detect/notify/notification.js';
import { pagerDutyEvent, pagerDutyFormat, pagerDutySeverity } from '../../../../detect/notify/pagerduty-format.js';
import { alertOf } from './support.js';

const CREATED = Date.parse('2026-03-01T12:00:00.000Z');

const digest = (changes: Partial<DigestNotification>): DigestNotification => ({
  kind: 'digest',
  route: 'pager',
  group: { source_namespace: 'shop' },
  windowStart: CREATED,
  windowEnd: CREATED + 60_000,
  count: 4,
  opened: 4,
  updated: 0,
  resolved: 0,
  maxSeverity: 'medium',
  alerts: [],
  omitted: 0,
  createdAt: CREATED + 60_000,
  ...changes,
});

describe('Detect > notify > PagerDuty format', () => {
  it('triggers an open alert with dedup_key = fingerprint and the Events v2 payload', () => {
    const alert = alertOf({ revision: 0 });
    assert.deepEqual(pagerDutyEvent('RK', { kind: 'alert', route: 'pager', alert, createdAt: CREATED }), {
      routing_key: 'RK',
      event_action: 'trigger',
      dedup_key: 'ioc:8f3a1c0d9e2b4a17',
      client: 'flowsentry',
      payload: {
        summary: `[high] ioc: ${alert.summary}`,
        source: 'management-ui/deployment/management-ui',
        severity: 'error',
        timestamp: new Date(alert.end_time).toISOString(),
        component: 'management-ui-5d8b7c9f4-x2k9q',
        group: 'management-ui',
        class: 'ioc',
        custom_details: {
          alert_id: alert.alert_id,
          revision: 0,
          technique: 'T1071',
          subject: 'management-ui/management-ui-5d8b7c9f4-* (deployment/management-ui, 10.0.1.15)',
          destination: '203.0.113.66:443 (pub)',
          flows: 11,
          indicator: '203.0.113.0/24',
          feed: 'example-blocklist',
          evidence: { matched_end: 'dest', bytes_out: '68874' },
          start_time: new Date(alert.start_time).toISOString(),
          end_time: new Date(alert.end_time).toISOString(),
        },
      },
    });
  });

  it('resolves a resolved alert by its fingerprint alone', () => {
    const alert = alertOf({ status: 'resolved', revision: 3 });
    assert.deepEqual(pagerDutyEvent('RK', { kind: 'alert', route: 'pager', alert, createdAt: CREATED }), {
      routing_key: 'RK',
      event_action: 'resolve',
      dedup_key: 'ioc:8f3a1c0d9e2b4a17',
    });
  });

  it('maps severities onto the four PagerDuty knows', () => {
    assert.deepEqual(pagerDutySeverity, { info: 'info', low: 'warning', medium: 'warning', high: 'error', critical: 'critical' });
  });

  it("adds a digest to its lead alert's incident, or one incident per group without one, and skips digests that opened nothing", () => {
    const onLead = pagerDutyEvent('RK', digest({ lead: { alert_id: 'a', fingerprint: 'scan:7' } }));
    assert.equal(onLead?.dedup_key, 'scan:7');
    const withoutLead = pagerDutyEvent('RK', digest({}));
    assert.match(withoutLead?.dedup_key ?? '', /^flowsentry-digest-[0-9a-f]{16}$/);
    assert.equal(withoutLead?.event_action, 'trigger');
    assert.equal(pagerDutyEvent('RK', digest({ opened: 0, updated: 2, resolved: 2 })), null);
    assert.equal(pagerDutyFormat('RK')(digest({ opened: 0, resolved: 4 })), null);
  });
});
