import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { configCommand } from '../../../cli/config-command.js';
import { configReference } from '../../../runtime/config/config-reference.js';
import { runCli } from '../../support/cli.js';

const sample = new URL('../../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url);

/** A child's environment with no endpoint and no FLOWSENTRY_ variable of the caller's. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

describe('CLI > config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('config check passes the example and prints it resolved, as YAML', async () => {
    const result = await runCli(['config', 'check', '--config', 'flowsentry.example.yaml'], cleanEnv());
    assert.equal(result.code, 0, result.stderr);
    const [first, ...rest] = result.stdout.split('\n');
    assert.equal(first, 'ok');
    const resolved = parse(rest.join('\n')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(resolved.kafka, { brokers: ['flows-kafka-bootstrap.kafka.svc.cluster.local:9092'] });
    assert.deepEqual(resolved.run, { stages: ['enrich', 'detect', 'respond', 'sink'] });
    assert.equal(resolved.detect!.learn, '24h');
    assert.equal(resolved.server!.port, 0, 'FLOWSENTRY_SERVER_PORT of the test environment wins over the file');
    assert.match(result.stdout, /port: 0 # FLOWSENTRY_SERVER_PORT/);
  });

  it('config check redacts secrets from the file and from variables, and applies overrides', async () => {
    const file = write('secrets.yaml', 'opensearch:\n  url: https://search.internal:9200\n  username: flowsentry\n  password: "hunter2"\n');
    const result = await runCli(['config', 'check', '--config', file], cleanEnv({ FLOWSENTRY_KUBERNETES_TOKEN: 'tok-123', FLOWSENTRY_ENRICH_CLUSTER_CIDR: '10.0.0.0/16,10.1.0.0/16' }));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes('hunter2') && !result.stdout.includes('tok-123'), result.stdout);
    const resolved = parse(result.stdout.split('\n').slice(1).join('\n')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(resolved.opensearch, { url: 'https://search.internal:9200', username: 'flowsentry', password: '<redacted>' });
    assert.deepEqual(resolved.kubernetes, { token: '<redacted>' });
    assert.deepEqual(resolved.enrich, { 'cluster-cidr': ['10.0.0.0/16', '10.1.0.0/16'] });
  });

  it('config check lists every problem with its path and exits 2', async () => {
    const file = write('bad.yaml', 'kafka:\n  brokers: kafka:9092\ndetect:\n  lern: 24h\nlog:\n  level: loud\n');
    const result = await runCli(['config', 'check', '--config', file], cleanEnv({ FLOWSENTRY_SINK_MEMBER: '2' }));
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /flowsentry config check: 4 problem\(s\) in the configuration/);
    for (const path of ['kafka.brokers: expected a list', 'detect.lern: unknown key (did you mean learn?)', 'log.level: expected one of', 'FLOWSENTRY_SINK_MEMBER: unknown variable (did you mean FLOWSENTRY_SINK_MEMBERS?)']) {
      assert.ok(result.stderr.includes(path), `${path} in:\n${result.stderr}`);
    }
  });

  it('config reference and config example print the reference and the example file', async (t) => {
    const reference = await runCli(['config', 'reference'], cleanEnv());
    assert.equal(reference.code, 0, reference.stderr);
    assert.equal(reference.stdout, configReference());
    const example = await runCli(['config', 'example'], cleanEnv());
    assert.equal(example.stdout, readFileSync(new URL('../../../flowsentry.example.yaml', import.meta.url), 'utf8'));
    const errors = t.mock.method(console, 'error', () => undefined);
    assert.equal(await configCommand.run(['lint']), 2);
    assert.equal(await configCommand.run(['reference', '--config', 'flowsentry.yaml']), 2);
    assert.match(String(errors.mock.calls[0]?.arguments[0]), /unknown subcommand 'lint'/);
    assert.match(String(errors.mock.calls[1]?.arguments[0]), /config reference: takes no options/);
  });

  it('a stage command with a bad configuration exits 2 naming every problem, before it starts anything', async () => {
    const file = write('bad-stage.yaml', 'enrich:\n  cluster-cidr: 12\n  partitions: many\ndetect:\n  port-scan-treshold: 30\nsink:\n  emf: "yes"\n');
    for (const [command, args] of [
      ['enrich', []],
      ['collect', ['--source', 'calico-file', '--file', 'flows.log']],
    ] as const) {
      const result = await runCli([command, ...args, '--config', file], cleanEnv({ KAFKA_BROKERS: '127.0.0.1:1', FLOWSENTRY_ENRICH_GRACE: 'soon' }));
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^flowsentry ${command}: 5 problem\\(s\\) in the configuration \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, FLOWSENTRY_\\* variables\\):\n`));
      for (const path of ['enrich.cluster-cidr: expected a list of strings, got 12', "enrich.partitions: expected an integer ≥ 1, got 'many'", 'detect.port-scan-treshold: unknown key', "sink.emf: expected true or false, got 'yes'", 'FLOWSENTRY_ENRICH_GRACE (enrich.grace)']) {
        assert.ok(result.stderr.includes(path), `${command}: ${path} in:\n${result.stderr}`);
      }
      assert.equal(result.stderr.trim().split('\n').length, 6, 'the heading and the five problems, nothing started');
      assert.equal(result.stdout, '');
    }
  });

  it('a stage takes the options its command line leaves out from its section', async () => {
    const flows = write('flows.log', readFileSync(sample, 'utf8'));
    const collect = write('collect.yaml', `collect:\n  source: calico-file\n  file: [${flows}]\n  node: from-config\n  bus: stdout\n`);
    const collected = await runCli(['collect', '--config', collect, '--node', 'from-cli'], cleanEnv());
    assert.equal(collected.code, 0, collected.stderr);
    const records = collected.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; key: string });
    assert.equal(records.filter((record) => record.type === 'RawFlow').length, 21, 'source and file come from the section');
    assert.ok(records.every((record) => record.key === 'from-cli'), 'the command line wins over the file');
  });

  it('the global keys become the environment the stage reads, and a variable beats the file', async () => {
    // The section's values reach the command's own checks (retention must exceed grace), and
    // kafka.brokers stands for KAFKA_BROKERS, which the environment lacks: one problem only.
    const enrich = write('enrich.yaml', 'kafka:\n  brokers: [127.0.0.1:1]\nenrich:\n  grace: 60\n  retention: 30\n');
    const enriched = await runCli(['enrich', '--config', enrich], cleanEnv());
    assert.equal(enriched.code, 2);
    assert.match(enriched.stderr, /^flowsentry enrich: 1 problem\(s\) in the options:\n {2}- --retention: 30 s keeps ended claims no longer than the grace/);
    // FLOWSENTRY_CONFIG names the file when --config does not; FLOWSENTRY_ENRICH_RETENTION beats it.
    const overridden = await runCli(['enrich'], cleanEnv({ FLOWSENTRY_CONFIG: enrich, FLOWSENTRY_ENRICH_RETENTION: '20' }));
    assert.equal(overridden.code, 2);
    assert.match(overridden.stderr, /^flowsentry enrich: 1 problem\(s\) in the options:\n {2}- --retention: 20 s keeps ended claims no longer than the grace/);
  });
});
