import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actionLines, alertLines, progressLine, summaryText } from '../../../cli/run/demo-report.js';
import type { ResponseAction } from '../../../schemas/types.js';
import { alertOf } from '../detect/quarantine/support.js';

const action = (overrides: Partial<ResponseAction> = {}): ResponseAction => ({
  action_id: 'a-1',
  alert_id: 'port_scan:1',
  kind: 'quarantine',
  target: { kind: 'Pod', namespace: 'stars', name: 'frontend-7d9f8c6b5-f4x2k', uid: 'u-1' },
  dry_run: true,
  status: 'requested',
  reason: 'dry run (rule contain-attacks): would apply calico quarantine until 2026-11-28T02:26:37.424Z; nothing written',
  requested_at: 0,
  ...overrides,
});

describe('the run summary', () => {
  it('lists each alert once, as last revised, in the order they started', () => {
    const lines = alertLines([
      alertOf({ alert_id: 'b', detector: 'ioc', start_time: 2, summary: 'called a bad address' }),
      alertOf({ alert_id: 'a', detector: 'port_scan', start_time: 1, revision: 0, summary: 'touched 16 ports' }),
      alertOf({ alert_id: 'a', detector: 'port_scan', start_time: 1, revision: 1, summary: 'touched 32 ports' }),
    ]);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /port_scan .*shop\/web-7d9f8c6b5-f4x2k .*touched 32 ports/);
    assert.match(lines[1]!, /ioc .*called a bad address/);
  });

  it('groups the decisions on one pod, counting the alert revisions that led to each', () => {
    const lines = actionLines([action(), action({ action_id: 'a-2' }), action({ status: 'skipped', dry_run: false, reason: 'protected namespace' })]);
    assert.deepEqual(lines, [
      '  requested (dry run): quarantine of pod stars/frontend-7d9f8c6b5-f4x2k, for 2 alert revisions — dry run (rule contain-attacks): would apply calico quarantine; nothing written',
      '  skipped: quarantine of pod stars/frontend-7d9f8c6b5-f4x2k, for 1 alert revision — protected namespace',
    ]);
  });

  it('shows the plan of the first quarantine and the next commands; no response section when nothing was set up to respond', () => {
    const base = { title: 'flowsentry demo', seconds: 31.2, flowsCollected: 51_000, stored: { flows: 20_000, alerts: 9, actions: 5 }, deadLetters: 0, alerts: [], actions: [], storePath: 's.db', nextCommands: ['flowsentry query flows --from -1h'] };
    const withPlan = summaryText({ ...base, responseNote: 'dry run', actions: [action()], plans: [{ action: action(), requests: '[\n  { "method": "PATCH" }\n]' }] });
    assert.match(withPlan, /flows collected 51,000\n {2}the store now holds 20,000 flows, 9 alerts and 5 actions \(s.db\)/);
    assert.match(summaryText({ ...base, plans: [], deadLetters: 3, unfinished: 12 }), /3 records dead-lettered.*\n.*\n {2}12 bus messages were not processed before the stop/);
    assert.match(withPlan, /the quarantine that would be applied to stars\/frontend-7d9f8c6b5-f4x2k/);
    assert.match(withPlan, /\n {4}\{ "method": "PATCH" \}/);
    assert.match(withPlan, /next: ask the store what happened\n {2}flowsentry query flows --from -1h/);
    const without = summaryText({ ...base, plans: [] });
    assert.doesNotMatch(without, /response \(/);
    assert.match(without, /alerts raised \(0\):\n {2}none/);
  });

  it('writes progress as one line with rate, stored, alerts and phase', () => {
    assert.equal(progressLine({ seconds: 3.21, flows: 12_345, rate: 4_100.4, stored: 9_000, alerts: 2, phase: 'learning' }), '    3.2 s  flows  12,345 ( 4,100/s)  stored   9,000  alerts  2  learning');
  });
});
