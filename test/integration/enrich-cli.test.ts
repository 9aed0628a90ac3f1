import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { inventoryEventOf } from '../../enrich/kubernetes-objects.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { topics } from '../../runtime/topics.js';
import { codecFor } from '../../schemas/codec.js';
import type { EnrichedFlow } from '../../schemas/types.js';
import { repoDir } from '../../services/paths.js';
import { childEnv, logged, stoppedMetrics } from '../support/cli.js';
import { addressOnlyFlow } from '../support/flows.js';
import { pod } from '../support/kubernetes-objects.js';
import { uniqueName, waitFor } from '../support/wait.js';

describe('CLI > enrich > Kafka', () => {
  it('runs the worker on the default topics until SIGTERM, then exits 0', async () => {
    const node = uniqueName('node');
    const ip = `10.${randomInt(100, 200)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const child = spawn(process.execPath, ['bin/flowsentry.js', 'enrich', '--group', uniqueName('enrich-cli'), '--grace', '0.5'], { cwd: repoDir, env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exitCode: number | null | undefined;
    const exited = once(child, 'exit').then(([code]) => (exitCode = code as number | null));
    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing' });
    const found: EnrichedFlow[] = [];
    const reader = bus.consumer({ groupId: uniqueName('enrich-cli-check'), topics: [topics.flowsEnriched] });
    try {
      await waitFor(() => logged(stderr, 'enrich', 'inventory read') || exitCode !== undefined, { timeoutMs: 60_000, description: 'the worker to start' });
      assert.equal(exitCode, undefined, `the worker stopped early:\n${stderr}`);
      const producer = bus.producer();
      const added = inventoryEventOf('ADDED', pod({ name: 'cli-pod', namespace: 'cli', ip, owner: { kind: 'StatefulSet', name: 'cli' } }), Date.now() - 60_000)!;
      await producer.send(topics.inventory, [{ key: added.uid, value: codecFor('InventoryEvent').encode(added) }]);
      const flow = addressOnlyFlow({ host: node, start_time: Date.now() - 10_000, source_ip: ip, dest_ip: '1.1.1.1', dest_port: 443 });
      await producer.send(topics.flowsRaw, [{ key: node, value: codecFor('RawFlow').encodeBatch([flow]) }]);
      await producer.close();
      await reader.start(async (batch) => {
        for (const message of batch.messages) found.push(...codecFor('EnrichedFlow').decodeAll(message.value).filter((record) => record.host === node));
      });
      await waitFor(() => found.length > 0, { timeoutMs: 60_000, description: 'the enriched flow of this node' });
      assert.deepEqual([found[0]!.source_namespace, found[0]!.source_workload, found[0]!.dest_name_aggr], ['cli', 'statefulset/cli', 'pub']);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await reader.close();
      await bus.close();
    }
    assert.equal(exitCode, 0, stderr);
    assert.match(stoppedMetrics(stderr, 'enrich'), /flowsentry_stage_records_total\{[^}]*outcome="ok"[^}]*\} [1-9]/, 'the metrics logged on exit count what it enriched');
  });

  it('refuses to start without a broker, naming every problem', async () => {
    const env = { ...process.env, KAFKA_BROKERS: '' };
    const child = spawn(process.execPath, ['bin/flowsentry.js', 'enrich', '--partitions', 'none', '--denied-level', '9'], { cwd: repoDir, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    for (const expected of ["--partitions: 'none' is not a positive integer", '--denied-level: expected an aggregation level', 'KAFKA_BROKERS is not set']) {
      assert.ok(stderr.includes(expected), `${expected} in\n${stderr}`);
    }
  });
});
