import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromJson } from '../../../schemas/json.js';
import type { Alert } from '../../../schemas/types.js';
import { runCli } from '../../support/cli.js';
import { feedText, knownBad, pods, starsScenario } from '../../support/stars-scenario.js';

function readAlerts(path: string): Alert[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => fromJson('Alert', JSON.parse(line)));
}

/**
 * The scripted scenario, end to end over files: `flowsentry replay` reads VPC Flow Logs and the
 * recorded inventory, enriches, and detects with a threat feed after 15 minutes of learning.
 */
describe('Detect > the stars scenario, replayed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-scenario-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const files = { flows: join(dir, 'vpc.log'), inventory: join(dir, 'watch.jsonl'), feed: join(dir, 'blocklist.txt') };
  const scenario = starsScenario();
  before(() => {
    writeFileSync(files.flows, `${scenario.flows.join('\n')}\n`);
    writeFileSync(files.inventory, `${scenario.inventory.join('\n')}\n`);
    writeFileSync(files.feed, feedText);
  });
  const replay = (alertsOut: string, extra: string[] = []) =>
    runCli([
      'replay',
      '--flows', files.flows,
      '--inventory', files.inventory,
      '--enriched-out', join(dir, 'enriched.jsonl'),
      '--feed', files.feed,
      '--learn', `${scenario.learnMinutes}m`,
      '--alerts-out', alertsOut,
      ...extra,
    ]);

  let alerts: Alert[] = [];
  it('raises exactly the expected alerts, each on the compromised frontend pod and its workload', async () => {
    const out = join(dir, 'alerts.jsonl');
    const result = await replay(out);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /feed blocklist: 3 entries/);
    alerts = readAlerts(out);
    const opened = alerts.filter((alert) => alert.revision === 0);
    assert.deepEqual(opened.map((alert) => alert.detector).sort(), ['ioc', 'ip_sweep', 'lateral_movement', 'port_scan']);
    for (const alert of opened) {
      assert.equal(`${alert.source_namespace}/${alert.source_name}`, `stars/${pods.frontend.name}`, alert.summary);
      assert.equal(alert.source_workload, 'deployment/frontend');
      assert.equal(alert.source_ip, pods.frontend.ip);
      assert.ok(alert.start_time >= scenario.attackAt, `${alert.detector} fired before the attack: ${alert.summary}`);
    }
    const by = (detector: string) => opened.find((alert) => alert.detector === detector)!;
    assert.equal(by('port_scan').dest_ip, pods.backendNew[0]!.ip, 'the scan targets the backend pod that holds the address after the rollout');
    assert.equal(by('port_scan').dest_workload, 'deployment/backend');
    assert.equal(by('ip_sweep').evidence?.port, '6/22');
    assert.equal(by('lateral_movement').dest_workload, 'statefulset/postgres');
    assert.equal(by('lateral_movement').dest_port, 22);
    assert.equal(by('ioc').dest_ip, knownBad);
    assert.equal(by('ioc').feed, 'blocklist');
    assert.equal(by('ioc').indicator, '203.0.113.0/24');
    assert.deepEqual(
      opened.map((alert) => alert.technique).sort(),
      ['T1018', 'T1021', 'T1046', 'T1071'],
    );
    // Every episode ends resolved, and no alert id is reused for another episode.
    const lastRevision = new Map(alerts.map((alert) => [alert.alert_id, alert]));
    assert.equal(lastRevision.size, 4);
    assert.ok([...lastRevision.values()].every((alert) => alert.status === 'resolved'));
  });

  it('is deterministic: the same input gives the same alerts, byte for byte', async () => {
    const again = join(dir, 'again.jsonl');
    const result = await replay(again);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(again, 'utf8'), readFileSync(join(dir, 'alerts.jsonl'), 'utf8'));
  });

  it('without learning, the normal traffic itself is new: more alerts than the attack alone', async () => {
    const out = join(dir, 'no-learning.jsonl');
    const result = await replay(out, ['--learn', '0']);
    assert.equal(result.code, 0, result.stderr);
    const opened = readAlerts(out).filter((alert) => alert.revision === 0);
    assert.ok(opened.length > 4, `${opened.length} alerts`);
  });

  it('rejects detection options without --alerts-out, and an unreadable feed, naming them', async () => {
    const noAlerts = await runCli(['replay', '--flows', files.flows, '--enriched-out', join(dir, 'x.jsonl'), '--learn', '5m']);
    assert.equal(noAlerts.code, 2);
    assert.match(noAlerts.stderr, /--learn: detection options need --alerts-out/);
    const missing = await replay(join(dir, 'y.jsonl'), ['--feed', join(dir, 'missing.txt')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--feed missing: .*missing\.txt/);
  });
});
