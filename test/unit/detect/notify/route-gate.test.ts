import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RouteConfig } from '../../../../detect/notify/notify-config.js';
import { RouteGate } from '../../../../detect/notify/route-gate.js';
import { alertOf } from './support.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const route = (changes: Partial<RouteConfig> = {}): RouteConfig => ({ name: 'r', endpoints: ['e'], ...changes });
const opened = (n: number, changes = {}) => alertOf({ revision: 0, detector: 'scan', ...changes }, n);

describe('Detect > notify > route gate', () => {
  describe('matching', () => {
    it('takes alerts at or above minSeverity, of the listed detectors, touching the listed namespaces', () => {
      const gate = new RouteGate(route({ match: { minSeverity: 'high', detectors: ['ioc'], namespaces: ['stars', 'management-ui'] } }), T0);
      assert.equal(gate.matches(alertOf()), true);
      assert.equal(gate.matches(alertOf({ severity: 'medium' })), false);
      assert.equal(gate.matches(alertOf({ severity: 'critical' })), true);
      assert.equal(gate.matches(alertOf({ detector: 'scan' })), false);
      assert.equal(gate.matches(alertOf({ source_namespace: 'other' })), false);
      assert.equal(gate.matches(alertOf({ source_namespace: 'other', dest_namespace: 'stars' })), true);
    });

    it('follows an alert it sent to its resolution even when it no longer matches', () => {
      const gate = new RouteGate(route({ match: { minSeverity: 'high' } }), T0);
      assert.equal(gate.offer(alertOf({ revision: 0 }), T0).outcome, 'sent');
      assert.equal(gate.offer(alertOf({ revision: 1, severity: 'low' }), T0).outcome, 'sent');
      assert.equal(gate.offer(alertOf({ revision: 2, severity: 'low', status: 'resolved' }), T0).outcome, 'sent');
      assert.equal(gate.offer(alertOf({ severity: 'low' }, 9), T0).outcome, 'unmatched');
    });
  });

  it('drops a revision it already took (at-least-once input)', () => {
    const gate = new RouteGate(route(), T0);
    assert.equal(gate.offer(alertOf({ revision: 1 }), T0).outcome, 'sent');
    assert.equal(gate.offer(alertOf({ revision: 1 }), T0).outcome, 'duplicate');
    assert.equal(gate.offer(alertOf({ revision: 0 }), T0).outcome, 'duplicate');
    const { outcome, notification } = gate.offer(alertOf({ revision: 2 }), T0 + 5);
    assert.equal(outcome, 'sent');
    assert.deepEqual(notification, { kind: 'alert', route: 'r', alert: alertOf({ revision: 2 }), createdAt: T0 + 5 });
  });

  describe('grouping', () => {
    it('sends the first alert of a storm and folds the rest into one digest at the window end', () => {
      const gate = new RouteGate(route({ groupBy: ['detector'], groupWindowMs: 60_000, digestSampleSize: 3 }), T0);
      const outcomes = Array.from({ length: 500 }, (_, n) => gate.offer(opened(n, { severity: n === 77 ? 'critical' : 'medium' }), T0 + n).outcome);
      assert.equal(outcomes.filter((outcome) => outcome === 'sent').length, 1);
      assert.equal(outcomes.filter((outcome) => outcome === 'grouped').length, 499);
      assert.equal(gate.nextWindowEnd(), T0 + 60_000);
      assert.deepEqual(gate.closeDueWindows(T0 + 59_999), []);
      const [digest, ...more] = gate.closeDueWindows(T0 + 60_000);
      assert.deepEqual(more, []);
      assert.ok(digest);
      assert.deepEqual(
        { ...digest, alerts: digest.alerts.map((alert) => alert.alert_id) },
        {
          kind: 'digest',
          route: 'r',
          group: { detector: 'scan' },
          windowStart: T0,
          windowEnd: T0 + 60_000,
          count: 499,
          opened: 499,
          updated: 0,
          resolved: 0,
          maxSeverity: 'critical',
          alerts: [1, 2, 3].map((n) => opened(n).alert_id),
          omitted: 496,
          lead: { alert_id: opened(0).alert_id, fingerprint: 'scan:0' },
          createdAt: T0 + 60_000,
        },
      );
      assert.equal(gate.nextWindowEnd(), undefined);
      assert.equal(gate.offer(opened(1000), T0 + 60_001).outcome, 'sent', 'a new window pages again');
    });

    it('keeps groups apart, and sends nothing at the end of a window that held nothing', () => {
      const gate = new RouteGate(route({ groupBy: ['source_namespace'], groupWindowMs: 1_000 }), T0);
      assert.equal(gate.offer(opened(1, { source_namespace: 'a' }), T0).outcome, 'sent');
      assert.equal(gate.offer(opened(2, { source_namespace: 'b' }), T0).outcome, 'sent');
      assert.equal(gate.offer(opened(3, { source_namespace: 'a' }), T0).outcome, 'grouped');
      const digests = gate.closeDueWindows(T0 + 1_000);
      assert.deepEqual(
        digests.map((digest) => [digest.group, digest.count]),
        [[{ source_namespace: 'a' }, 1]],
      );
    });

    it('sends updates and the resolution of the alert it sent, and keeps those of held alerts in digests', () => {
      const gate = new RouteGate(route({ groupWindowMs: 1_000 }), T0);
      assert.equal(gate.offer(opened(1), T0).outcome, 'sent');
      assert.equal(gate.offer(opened(2), T0).outcome, 'grouped');
      assert.equal(gate.offer(opened(1, { revision: 1 }), T0 + 1).outcome, 'sent');
      assert.equal(gate.offer(opened(2, { revision: 1 }), T0 + 2).outcome, 'grouped');
      const [first] = gate.closeDueWindows(T0 + 1_000);
      assert.deepEqual([first?.count, first?.opened, first?.updated, first?.alerts.map((alert) => alert.revision)], [2, 1, 1, [1]]);
      assert.equal(gate.offer(opened(2, { revision: 2, status: 'resolved' }), T0 + 1_500).outcome, 'grouped', 'a digest-only window opens');
      assert.equal(gate.offer(opened(1, { revision: 2, status: 'resolved' }), T0 + 1_600).outcome, 'sent');
      const [second] = gate.closeAllWindows(T0 + 1_700);
      assert.deepEqual([second?.count, second?.resolved, second?.lead, second?.windowEnd], [1, 1, undefined, T0 + 1_700]);
    });

    it('forgets the lead of a window once the lead is resolved, so a digest does not reopen it', () => {
      const gate = new RouteGate(route({ groupWindowMs: 1_000 }), T0);
      gate.offer(opened(1), T0);
      gate.offer(opened(2), T0);
      gate.offer(opened(1, { revision: 1, status: 'resolved' }), T0);
      assert.equal(gate.closeDueWindows(T0 + 1_000)[0]?.lead, undefined);
    });
  });

  describe('rate limit', () => {
    it('sends while tokens last, holds the excess for a digest, and refills evenly', () => {
      const gate = new RouteGate(route({ rateLimit: { count: 2, perMs: 1_000 } }), T0);
      const outcomes = [1, 2, 3, 4].map((n) => gate.offer(opened(n), T0).outcome);
      assert.deepEqual(outcomes, ['sent', 'sent', 'rate_limited', 'rate_limited']);
      assert.equal(gate.nextWindowEnd(), T0 + 1_000);
      assert.equal(gate.offer(opened(5), T0 + 499).outcome, 'rate_limited');
      assert.equal(gate.offer(opened(6), T0 + 500).outcome, 'sent');
      const [digest] = gate.closeDueWindows(T0 + 1_000);
      assert.deepEqual([digest?.count, digest?.opened], [3, 3]);
    });

    it('lets the resolution of a sent alert through without a token, but not its updates', () => {
      const gate = new RouteGate(route({ rateLimit: { count: 1, perMs: 60_000 } }), T0);
      assert.equal(gate.offer(opened(1), T0).outcome, 'sent');
      assert.equal(gate.offer(opened(1, { revision: 1 }), T0).outcome, 'rate_limited');
      assert.equal(gate.offer(opened(1, { revision: 2, status: 'resolved' }), T0).outcome, 'sent');
    });

    it('with grouping, an alert that opens a window without a token waits for the digest', () => {
      const gate = new RouteGate(route({ groupWindowMs: 1_000, groupBy: ['source_ip'], rateLimit: { count: 1, perMs: 60_000 } }), T0);
      assert.equal(gate.offer(opened(1), T0).outcome, 'sent');
      assert.equal(gate.offer(opened(2), T0).outcome, 'rate_limited');
      const digests = gate.closeDueWindows(T0 + 1_000);
      assert.deepEqual(
        digests.map((digest) => [digest.count, digest.lead]),
        [[1, undefined]],
      );
    });
  });

  it('remembers a bounded number of alerts, oldest forgotten first', () => {
    const gate = new RouteGate(route(), T0, 2);
    for (const n of [1, 2, 3]) gate.offer(opened(n), T0);
    assert.equal(gate.offer(opened(3), T0).outcome, 'duplicate');
    assert.equal(gate.offer(opened(1), T0).outcome, 'sent', 'forgotten, so taken as new');
  });
});
