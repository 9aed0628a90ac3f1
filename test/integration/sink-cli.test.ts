import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CloudWatchLogsClient, DeleteLogGroupCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { enrichedMessages } from '../../enrich/enrich-worker.js';
import { awsClientSettings } from '../../runtime/aws.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { topics } from '../../runtime/topics.js';
import { repoDir } from '../../services/paths.js';
import { openSearchClient } from '../../sink/opensearch/opensearch-client.js';
import { childEnv, logged, runCli, stoppedMetrics } from '../support/cli.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../support/enriched-flows.js';
import { requiredEnv, uniqueName, waitFor } from '../support/wait.js';

const seed = readFileSync(new URL('../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url), 'utf8').trimEnd().split('\n');

/** The seed lines moved to an hour ago (CloudWatch Logs refuses events older than 14 days). */
function recentSeed(): string[] {
  const shift = Math.floor(Date.now() / 1000) - 3600 - Number(seed[0]!.split(' ')[0]);
  return seed.map((line) => {
    const [start, end, ...rest] = line.split(' ');
    return [Number(start) + shift, Number(end) + shift, ...rest].join(' ');
  });
}

describe('CLI > sink and replay outputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-sink-cli-'));
  const search = openSearchClient({ url: requiredEnv('OPENSEARCH_URL') });
  const logs = new CloudWatchLogsClient(awsClientSettings(endpointsFromEnv()));
  const prefixes: string[] = [];
  const groups: string[] = [];
  after(async () => {
    for (const prefix of prefixes) {
      await search.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true } as never);
      for (const word of ['flows', 'alerts', 'actions']) await search.indices.deleteIndexTemplate({ name: `${prefix}-${word}` }, { ignore: [404] });
    }
    for (const logGroupName of groups) await logs.send(new DeleteLogGroupCommand({ logGroupName })).catch(() => undefined);
    await search.close();
    logs.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replay writes the Calico file byte-identical to its input, and the same flows to OpenSearch and CloudWatch Logs', async () => {
    const lines = recentSeed();
    const input = join(dir, 'node-a.flowlogs');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const prefix = uniqueName('fs-replay');
    const cluster = uniqueName('replay');
    prefixes.push(prefix);
    groups.push(`/flowsentry/${cluster}/flows`);
    const calicoOut = join(dir, 'out.calico');
    const result = await runCli([
      'replay',
      '--flows', input,
      '--node', 'node-a',
      '--enriched-out', join(dir, 'enriched.jsonl'),
      '--calico-out', calicoOut,
      '--opensearch', requiredEnv('OPENSEARCH_URL'),
      '--index-prefix', prefix,
      '--replicas', '0',
      '--cloudwatch', cluster,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`sink: opensearch ${lines.length} written, 0 refused; cloudwatch ${lines.length} written, 0 refused`));
    assert.deepEqual(readFileSync(calicoOut, 'utf8').trimEnd().split('\n'), lines);

    await search.indices.refresh({ index: `${prefix}-*` });
    const count = await search.count({ index: `${prefix}-flows-*` });
    assert.equal(count.body.count, lines.length);

    const page = await logs.send(new GetLogEventsCommand({ logGroupName: `/flowsentry/${cluster}/flows`, logStreamName: 'node-a', startFromHead: true }));
    assert.deepEqual((page.events ?? []).map((event) => event.message).sort(), [...lines].sort());
  });

  it('flowsentry sink writes what arrives on Kafka to OpenSearch, and stops on SIGTERM with 0', async () => {
    const prefix = uniqueName('fs-sinkcli');
    prefixes.push(prefix);
    const child = spawn(process.execPath, ['bin/flowsentry.js', 'sink', '--kinds', 'flows', '--index-prefix', prefix, '--replicas', '0', '--group', uniqueName('sink-cli')], {
      cwd: repoDir,
      env: childEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit').then(([code]) => code as number | null);
    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing' });
    try {
      await waitFor(() => logged(stderr, 'sink', 'writing flow'), { timeoutMs: 90_000, description: 'the sink to start' }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\nsink said:\n${stderr}`);
      });
      const pod = deploymentPod('cli', uniqueName('sender'), '10.88.0.5');
      const flows = Array.from({ length: 50 }, (_, i) => enrichedFlow(pod, publicAddress('198.51.100.7'), { at: Date.now() - i * 1000, port: 443 }));
      const producer = bus.producer();
      await producer.send(topics.flowsEnriched, enrichedMessages(topics.flowsEnriched, flows));
      await producer.close();
      await waitFor(
        async () => {
          await search.indices.refresh({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true } as never);
          const found = await search.count({ index: `${prefix}-flows-*`, ignore_unavailable: true, allow_no_indices: true, body: { query: { term: { source_name: pod.name } } } } as never);
          return (found.body as { count: number }).count === 50;
        },
        { timeoutMs: 60_000, description: 'the 50 flows in OpenSearch' },
      );
    } finally {
      child.kill('SIGTERM');
      await bus.close();
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stoppedMetrics(stderr, 'sink'), /flowsentry_sink_records_total\{kind="flow",outlet="opensearch"\} \d+/);
  });
});
