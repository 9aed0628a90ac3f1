import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DigestNotification } from '../../../../detect/notify/notification.js';
import { notificationId } from '../../../../detect/notify/notification.js';
import { verifyWebhook } from '../../../../detect/notify/standard-webhooks.js';
import { webhookEvent, webhookFormat } from '../../../../detect/notify/webhook-format.js';
import { fromJson, toJson } from '../../../../schemas/json.js';
import { alertOf, NEW_SECRET, OLD_SECRET } from './support.js';

const CREATED = Date.parse('2026-03-01T12:00:00.000Z');

describe('Detect > notify > webhook format', () => {
  it("carries the alert's one JSON form, typed by where the episode is", () => {
    const cases = [
      [alertOf({ revision: 0 }), 'alert.opened'],
      [alertOf({ revision: 3 }), 'alert.updated'],
      [alertOf({ revision: 4, status: 'resolved' }), 'alert.resolved'],
    ] as const;
    for (const [alert, type] of cases) {
      const event = webhookEvent({ kind: 'alert', route: 'r', alert, createdAt: CREATED });
      assert.deepEqual(event, { type, timestamp: '2026-03-01T12:00:00.000Z', data: toJson('Alert', alert) });
      assert.deepEqual(fromJson('Alert', event.data), alert);
    }
  });

  it('keeps one id and body per alert revision, and signs each attempt afresh', () => {
    const alert = alertOf({ revision: 2 });
    const format = webhookFormat({ secrets: [OLD_SECRET, NEW_SECRET], headers: { authorization: 'Bearer t' } });
    const message = format({ kind: 'alert', route: 'r', alert, createdAt: CREATED });
    assert.ok(message);
    assert.equal(message.id, `${alert.alert_id}.2`);
    const first = message.headers(CREATED);
    const second = message.headers(CREATED + 7_000);
    assert.equal(first['webhook-id'], second['webhook-id']);
    assert.equal(Number(second['webhook-timestamp']) - Number(first['webhook-timestamp']), 7);
    assert.notEqual(first['webhook-signature'], second['webhook-signature']);
    assert.equal(first['content-type'], 'application/json');
    assert.equal(first.authorization, 'Bearer t');
    verifyWebhook([NEW_SECRET], second, message.body, { now: () => CREATED + 7_000 });
  });

  it('sends a digest as alert.digest with counts and the sampled alerts', () => {
    const digest: DigestNotification = {
      kind: 'digest',
      route: 'pager',
      group: { detector: 'scan' },
      windowStart: CREATED,
      windowEnd: CREATED + 60_000,
      count: 3,
      opened: 2,
      updated: 0,
      resolved: 1,
      maxSeverity: 'high',
      alerts: [alertOf({}, 1)],
      omitted: 2,
      lead: { alert_id: 'scan:0:1530810851000', fingerprint: 'scan:0' },
      createdAt: CREATED + 60_000,
    };
    const event = webhookEvent(digest);
    assert.equal(event.type, 'alert.digest');
    assert.deepEqual(event.data, {
      route: 'pager',
      group: { detector: 'scan' },
      window_start: CREATED,
      window_end: CREATED + 60_000,
      count: 3,
      opened: 2,
      updated: 0,
      resolved: 1,
      max_severity: 'high',
      lead_alert_id: 'scan:0:1530810851000',
      alerts: [toJson('Alert', alertOf({}, 1))],
      omitted: 2,
    });
    assert.match(notificationId(digest), /^digest\.[0-9a-f]{16}\.\d+$/);
  });
});
