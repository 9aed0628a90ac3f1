import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeMrkdwn, slackMessage } from '../../../../detect/notify/slack-format.js';
import { alertOf } from './support.js';

const CREATED = Date.parse('2026-03-01T12:00:00.000Z');

describe('Detect > notify > Slack format', () => {
  it('names severity, detector, subject, destination and technique', () => {
    const message = slackMessage({ kind: 'alert', route: 'chat', alert: alertOf({ revision: 0 }), createdAt: CREATED });
    assert.match(message.text, /^\[HIGH\] ioc: management-ui-5d8b7c9f4-\* sent 68874 bytes to 203\.0\.113\.66:443/);
    assert.deepEqual(
      message.blocks.map((block) => block.type),
      ['header', 'section', 'section', 'context'],
    );
    assert.deepEqual(message.blocks[0], { type: 'header', text: { type: 'plain_text', text: 'HIGH · ioc' } });
    const fields = (message.blocks[2] as { fields?: readonly { text: string }[] }).fields?.map((field) => field.text);
    assert.deepEqual(fields, [
      '*Severity*\nhigh',
      '*Detector*\nioc',
      '*Subject*\nmanagement-ui/management-ui-5d8b7c9f4-* (deployment/management-ui, 10.0.1.15)',
      '*Destination*\n203.0.113.66:443 (pub)',
      '*Technique*\nT1071',
      '*Status*\nopen, revision 0',
    ]);
  });

  it('says when an alert is resolved', () => {
    const message = slackMessage({ kind: 'alert', route: 'chat', alert: alertOf({ status: 'resolved', revision: 5 }), createdAt: CREATED });
    assert.match(message.text, /^Resolved: \[HIGH\] ioc: /);
    assert.deepEqual(message.blocks[0], { type: 'header', text: { type: 'plain_text', text: 'RESOLVED · ioc (was high)' } });
  });

  it("escapes mrkdwn control characters and keeps to Block Kit's lengths", () => {
    assert.equal(escapeMrkdwn('a <b> & c'), 'a &lt;b&gt; &amp; c');
    const alert = alertOf({ detector: 'x'.repeat(400), summary: `<!channel> ${'y'.repeat(5000)}` });
    const message = slackMessage({ kind: 'alert', route: 'chat', alert, createdAt: CREATED });
    assert.ok(message.text.length <= 3000);
    assert.ok(!message.text.includes('<!channel>'));
    const header = message.blocks[0] as { text: { text: string } };
    assert.equal(header.text.text.length, 150);
    const summary = message.blocks[1] as { text: { text: string } };
    assert.ok(summary.text.text.startsWith('&lt;!channel&gt;'));
    assert.ok(summary.text.text.length <= 3000);
  });

  it('lists a digest with its counts', () => {
    const message = slackMessage({
      kind: 'digest',
      route: 'chat',
      group: { detector: 'scan' },
      windowStart: CREATED,
      windowEnd: CREATED + 60_000,
      count: 12,
      opened: 10,
      updated: 1,
      resolved: 1,
      maxSeverity: 'critical',
      alerts: [alertOf({ detector: 'scan', severity: 'critical', summary: 'pod-1 probed 300 ports' }, 1)],
      omitted: 11,
      createdAt: CREATED + 60_000,
    });
    assert.equal(message.text, '12 more alert event(s) on route chat (detector=scan): 10 opened, 1 updated, 1 resolved; highest severity critical');
    assert.match(JSON.stringify(message.blocks), /• \[critical\] scan: pod-1 probed 300 ports/);
    assert.match(JSON.stringify(message.blocks), /11 more alert\(s\) not listed/);
  });
});
