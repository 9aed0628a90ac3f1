import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { NotifyConfig } from '../../../../detect/notify/notify-config.js';
import { notifyConfigProblems } from '../../../../detect/notify/notify-config.js';
import { Notifier } from '../../../../detect/notify/notifier.js';
import { pagerDutyFormat } from '../../../../detect/notify/pagerduty-format.js';
import { slackMessage } from '../../../../detect/notify/slack-format.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';
import { toJson } from '../../../../schemas/json.js';
import type { DeadLetter, ResponseAction } from '../../../../schemas/types.js';
import { NEW_SECRET, TestClock, TestReceiver } from './support.js';

const applied = (changes: Partial<ResponseAction> = {}): ResponseAction => ({
  action_id: 'q-3f2a9c',
  alert_id: 'alert-1',
  kind: 'quarantine',
  target: { kind: 'Pod', namespace: 'shop', name: 'web-7d9f-abcde', uid: 'uid-1' },
  dry_run: false,
  status: 'applied',
  reason: 'ioc-hit critical: calico backend',
  requested_by: 'flowsentry',
  requested_at: Date.parse('2026-11-27T10:00:00Z'),
  completed_at: Date.parse('2026-11-27T10:00:00.400Z'),
  expires_at: Date.parse('2026-11-27T11:00:00Z'),
  undoes_action_id: null,
  ...changes,
});

async function rig(t: TestContext, routes: NotifyConfig['routes']) {
  const clock = new TestClock();
  const hook = await TestReceiver.start({ now: () => clock.now(), verifyWith: [[NEW_SECRET]] });
  t.after(() => hook.close());
  const deadLetters: DeadLetter[] = [];
  const notifier = new Notifier({
    config: { endpoints: [{ name: 'soc', type: 'webhook', url: hook.url(), secrets: [NEW_SECRET] }], routes },
    onDeadLetter: (letter) => deadLetters.push(letter),
    metrics: new MetricsRegistry(),
    clock,
  });
  t.after(() => notifier.close());
  return { notifier, hook, deadLetters };
}

describe('Detect > notify > response actions', () => {
  it('sends each action as a signed webhook event named by its kind and outcome, with a stable id', async (t) => {
    const { notifier, hook, deadLetters } = await rig(t, [{ name: 'all', endpoints: ['soc'] }]);
    const actions = [applied(), applied({ action_id: 'u-1', kind: 'undo', status: 'expired', undoes_action_id: 'q-3f2a9c' })];
    for (const action of actions) notifier.notifyAction(action);
    await notifier.drain();
    assert.deepEqual(hook.signatureFailures, []);
    assert.deepEqual(
      hook.delivered.map((request) => [request.headers['webhook-id'], (request.json as { type: string }).type, (request.json as { data: unknown }).data]),
      [
        ['action.q-3f2a9c.applied', 'quarantine.applied', toJson('ResponseAction', actions[0]!)],
        ['action.u-1.expired', 'undo.expired', toJson('ResponseAction', actions[1]!)],
      ],
    );
    assert.deepEqual(deadLetters, []);
  });

  it('sends an action and outcome once, however often a re-read batch states it', async (t) => {
    const { notifier, hook } = await rig(t, [{ name: 'all', endpoints: ['soc'] }]);
    notifier.notifyAction(applied());
    notifier.notifyAction(applied());
    notifier.notifyAction(applied({ status: 'failed' }));
    await notifier.drain();
    assert.deepEqual(
      hook.delivered.map((request) => request.headers['webhook-id']),
      ['action.q-3f2a9c.applied', 'action.q-3f2a9c.failed'],
    );
  });

  it('leaves out routes that turned actions off, and routes whose namespaces do not hold the target', async (t) => {
    const { notifier, hook } = await rig(t, [
      { name: 'quiet', endpoints: ['soc'], actions: false },
      { name: 'payments', endpoints: ['soc'], match: { namespaces: ['payments'] } },
    ]);
    notifier.notifyAction(applied());
    notifier.notifyAction(applied({ action_id: 'q-pay', target: { kind: 'Pod', namespace: 'payments', name: 'api-1', uid: 'uid-2' } }));
    await notifier.drain();
    assert.deepEqual(
      hook.delivered.map((request) => request.headers['webhook-id']),
      ['action.q-pay.applied'],
    );
  });

  it('says a refusal and a dry run plainly in Slack, and keeps actions out of PagerDuty', () => {
    const refused = applied({ status: 'skipped', dry_run: true, reason: 'protected namespace kube-system', target: { kind: 'Pod', namespace: 'kube-system', name: 'coredns-1', uid: null } });
    const message = slackMessage({ kind: 'action', route: 'all', action: refused, createdAt: 0 });
    assert.match(message.text, /^dry run: quarantine\.skipped Pod kube-system\/coredns-1: protected namespace kube-system$/);
    assert.ok(JSON.stringify(message.blocks).includes('protected namespace kube-system'));
    assert.equal(pagerDutyFormat('key')({ kind: 'action', route: 'all', action: refused, createdAt: 0 }), null);
  });

  it('rejects a route whose actions flag is not a boolean', () => {
    const problems = notifyConfigProblems({ endpoints: [{ name: 'soc', type: 'slack', url: 'https://hooks.example/1' }], routes: [{ name: 'r', endpoints: ['soc'], actions: 'yes' }] });
    assert.deepEqual(problems.filter((problem) => problem.includes('actions')), ['notify.routes[0].actions: expected true or false, got "yes"']);
  });
});
