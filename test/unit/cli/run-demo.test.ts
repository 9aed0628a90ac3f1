import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { compromisedPod, demoPods, knownBadAddress } from '../../../ingest/demo/demo-cluster.js';
import { repoDir } from '../../../services/paths.js';
import { runCli } from '../../support/cli.js';

/** The process environment of a user with nothing configured: no broker, no OpenSearch. */
function embeddedEnv(storePath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FLOWSENTRY_STORE_PATH: storePath };
  for (const name of ['KAFKA_BROKERS', 'OPENSEARCH_URL', 'FLOWSENTRY_CONFIG']) delete env[name];
  return env;
}

/** The words of a suggested command after `query`, as arguments. */
const queryArgs = (line: string) => line.trim().split(/\s+/).slice(line.trim().split(/\s+/).indexOf('query'));

describe('flowsentry run > the demo on embedded defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-run-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, 'store.db');
  let stdout = '';

  it('plays the cluster and the attack through every stage and ends on its own with the summary', async () => {
    // --speed 150: the same demo, its event-time minutes played faster than the default.
    const result = await runCli(['run', '--speed', '150'], embeddedEnv(store));
    assert.equal(result.code, 0, result.stderr);
    stdout = result.stdout;
    assert.match(stdout, /flowsentry demo: done in/);
    const collected = Number(/flows collected ([\d,]+)/.exec(stdout)?.[1]?.replace(/,/g, ''));
    const stored = Number(/the store now holds ([\d,]+) flows/.exec(stdout)?.[1]?.replace(/,/g, ''));
    assert.ok(collected > 10_000, `flows collected: ${collected}`);
    assert.ok(stored > 1_000 && stored <= collected, `flows stored: ${stored} of ${collected}`);
  });

  it('raises the four alerts of the attack, each on the compromised frontend pod', () => {
    const section = stdout.slice(stdout.indexOf('alerts raised'), stdout.indexOf('response ('));
    assert.match(section, /alerts raised \(4\)/);
    for (const detector of ['port_scan', 'ip_sweep', 'lateral_movement', 'ioc']) {
      const line = section.split('\n').find((candidate) => candidate.includes(` ${detector} `));
      assert.ok(line, `no ${detector} alert in:\n${section}`);
      assert.ok(line.includes(`${compromisedPod.namespace}/${compromisedPod.name}`), line);
    }
    // Nothing else in the cluster alerts: not the other frontend replica, not Prometheus's scrapes.
    assert.doesNotMatch(section, new RegExp(demoPods.frontend[1].name));
    assert.doesNotMatch(section, /prometheus/);
  });

  it('plans the quarantine of that pod in dry run against the demo inventory, with the exact requests', () => {
    const response = stdout.slice(stdout.indexOf('response ('), stdout.indexOf('next:'));
    assert.match(response, new RegExp(`requested \\(dry run\\): quarantine of pod ${compromisedPod.namespace}/${compromisedPod.name}`));
    assert.match(response, /"method": "PATCH"/);
    assert.match(response, new RegExp(`/api/v1/namespaces/stars/pods/${compromisedPod.name}`));
    assert.match(response, /GlobalNetworkPolicy/);
  });

  it('suggests queries that answer from the embedded store', async () => {
    const next = stdout.slice(stdout.indexOf('next:')).split('\n').filter((line) => line.includes(' query '));
    assert.equal(next.length, 3, stdout.slice(stdout.indexOf('next:')));
    const timeline = await runCli([...queryArgs(next[0]!), '--dest-port', '22', '--format', 'jsonl'], embeddedEnv(store));
    assert.equal(timeline.code, 0, timeline.stderr);
    const flows = timeline.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { dest_ip: string; dest_port: number | null });
    assert.ok(flows.some((flow) => flow.dest_ip === demoPods.postgres.ip && flow.dest_port === 22), 'the SSH session to the database is on the timeline');
    const callers = await runCli(queryArgs(next[1]!), embeddedEnv(store));
    assert.equal(callers.code, 0, callers.stderr);
    assert.ok(callers.stdout.includes(compromisedPod.name) || callers.stdout.includes(compromisedPod.ip), callers.stdout);
    assert.ok(next[1]!.includes(knownBadAddress));
  });

  it('with --follow keeps running until SIGTERM, then drains, prints the summary and exits 0', async () => {
    const child = spawn(process.execPath, ['bin/flowsentry.js', 'run', '--follow', '--speed', '150', '--store', join(dir, 'follow.db')], {
      cwd: repoDir,
      env: embeddedEnv(join(dir, 'unused.db')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.resume();
    const exited = once(child, 'exit');
    // Past the scripted part (20 minutes at 150 ms) and into live traffic.
    const deadline = Date.now() + 60_000;
    while (!out.includes('live traffic') && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 200));
    assert.ok(out.includes('live traffic'), out);
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    assert.match(out, /flowsentry demo: done in/);
    assert.match(out, /alerts raised \(4\)/);
  });

  it('refuses options that do not fit, naming each, with exit code 2', async () => {
    const result = await runCli(['run', '--speed', 'fast', '--file', 'x.log'], embeddedEnv(store));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--speed: 'fast'/);
    assert.match(result.stderr, /--file: not used by the demo/);
  });
});
