import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { encodeSubscriptionPayload } from '../../../ingest/cloudwatch-subscription.js';
import type { SourceBatch } from '../../../ingest/source.js';
import { VpcKinesisSource, type VpcKinesisPosition } from '../../../ingest/vpc-kinesis-source.js';
import type { BatchHandler, Bus, BusConsumer, IncomingBatch } from '../../../runtime/bus/bus.js';
import { MemoryBus } from '../../../runtime/bus/memory-bus.js';
import { codecFor } from '../../../schemas/codec.js';
import { waitFor } from '../../support/wait.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/vpc/${name}`, import.meta.url)));
const codec = codecFor('RawFlow');

const line = (port: number) => `2 123456789010 eni-0a1b 10.0.0.1 10.0.0.2 ${port} 443 6 3 180 1700000000 1700000060 ACCEPT OK`;
const payload = (...ports: number[]) =>
  encodeSubscriptionPayload({
    messageType: 'DATA_MESSAGE',
    owner: '123456789010',
    logGroup: 'vpc-flow-logs',
    logStream: 'eni-0a1b-all',
    subscriptionFilters: ['to-kinesis'],
    logEvents: ports.map((port, i) => ({ id: `${port}${i}`, timestamp: 1700000060000, message: line(port) })),
  });

/** Reads batches, committing each, until `enough` says so. */
async function take(source: VpcKinesisSource, enough: (batches: SourceBatch<VpcKinesisPosition>[]) => boolean, commit = true) {
  const batches: SourceBatch<VpcKinesisPosition>[] = [];
  for await (const batch of source.batches()) {
    batches.push(batch);
    if (commit) await source.commit(batch.position);
    if (enough(batches)) break;
  }
  return batches;
}

const ports = (batches: readonly SourceBatch[]) => batches.flatMap((batch) => batch.flows.map((flow) => flow.source_port));

describe('Ingest > VPC flow logs > Kinesis source', () => {
  it('turns subscription payloads into flows, skips control messages, and reports bad records and events', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ name: 'vpc', partitions: 1 }]);
    const bad = encodeSubscriptionPayload({
      messageType: 'DATA_MESSAGE',
      owner: '1',
      logGroup: 'vpc-flow-logs',
      logStream: 's',
      subscriptionFilters: [],
      logEvents: [{ id: 'e-42', timestamp: 1, message: '2 1 eni-1 10.0.0.1 10.0.0.2 http 443 6 3 180 1 2 ACCEPT OK' }],
    });
    const values = [fixture('subscription-data.gz'), fixture('subscription-control.gz'), Buffer.from('not a payload'), bad, payload(1)];
    await bus.producer().send('vpc', values.map((value) => ({ key: 'k', value })));
    const source = new VpcKinesisSource({ bus, streams: ['vpc'], groupId: 'g' });
    const batches = await take(source, () => source.counts.records === values.length);
    const flows = batches.flatMap((batch) => batch.flows);
    const problems = batches.flatMap((batch) => batch.problems);
    for (const flow of flows) codec.encode(flow);
    assert.deepEqual(ports(batches), [20641, 49761, 34892, 0, 1]);
    assert.deepEqual(
      { ...source.counts },
      { lines: 8, flows: 5, problems: 2, noData: 1, skipData: 1, headers: 0, blank: 0, records: 5, controlMessages: 1 },
    );
    assert.deepEqual(
      problems.map((problem) => [problem.location, problem.reason]),
      [
        [{ source: 'kinesis:vpc/shardId-000000000000', offset: '2' }, 'INGEST_BAD_ENVELOPE'],
        [{ source: 'kinesis:vpc/shardId-000000000000', line: 1, offset: '3' }, 'INGEST_BAD_FIELD'],
      ],
    );
    assert.equal(problems[1]!.message, "kinesis:vpc/shardId-000000000000:1@3: event e-42 of vpc-flow-logs/s: srcport 'http' is not a number");
    assert.equal(problems[0]!.original.toString(), 'not a payload');
    assert.deepEqual(batches.at(-1)!.position.sequenceNumber, '4');
    await source.close();
    await bus.close();
  });

  it('acknowledges a batch to the bus only once committed; close hands the rest to the next reader', async () => {
    const bus = new MemoryBus({ retryBackoffMs: 1 });
    await bus.ensureTopics([{ name: 'vpc', partitions: 1 }]);
    await bus.producer().send('vpc', [1, 2, 3].map((port) => ({ key: 'k', value: payload(port) })));
    const first = new VpcKinesisSource({ bus, streams: ['vpc'], groupId: 'g', maxBatchMessages: 1 });
    let taken = 0;
    for await (const batch of first.batches()) {
      if (++taken === 1) await first.commit(batch.position);
      else break; // the second batch is read, never committed
    }
    await first.close();
    const second = new VpcKinesisSource({ bus, streams: ['vpc'], groupId: 'g', maxBatchMessages: 1 });
    assert.deepEqual(ports(await take(second, (batches) => ports(batches).length === 2)), [2, 3]);
    await second.close();
    await bus.close();
  });

  it('keeps at most maxQueuedBatches parsed and waiting, while the bus pushes many at once', async () => {
    const bus = new ConcurrentBus(Array.from({ length: 8 }, (_, shard) => payload(100 + shard)));
    const source = new VpcKinesisSource({ bus, streams: ['vpc'], groupId: 'g', maxQueuedBatches: 2 });
    const iterator = source.batches()[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    // One handed out, two queued; the other five wait for room before being parsed.
    await waitFor(() => source.counts.records === 3, { timeoutMs: 2_000, description: 'the queue to fill' });
    for (let turn = 0; turn < 5; turn++) await new Promise((resolveTurn) => setImmediate(resolveTurn));
    assert.equal(source.counts.records, 3);
    assert.deepEqual(bus.acked, [], 'nothing is acknowledged before commit');

    await source.commit(first.value!.position);
    await waitFor(() => bus.acked.length === 1, { timeoutMs: 2_000, description: 'the first ack' });
    let last = first.value!.position;
    for (let i = 1; i < 8; i++) {
      const next = await iterator.next();
      last = next.value!.position;
    }
    await source.commit(last);
    await waitFor(() => bus.acked.length === 8, { timeoutMs: 2_000, description: 'every ack' });
    assert.deepEqual([...bus.acked].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
    await source.close();
    assert.equal((await iterator.next()).done, true, 'batches() ends on close');
  });

  it('stops with the bus error when a stream does not exist, and can start again once it does', async () => {
    const bus = new MemoryBus();
    const source = new VpcKinesisSource({ bus, streams: ['later'], groupId: 'g' });
    await assert.rejects(take(source, () => true), { code: 'UNKNOWN_TOPIC' });
    await bus.ensureTopics([{ name: 'later', partitions: 1 }]);
    await bus.producer().send('later', [{ key: 'k', value: payload(7) }]);
    assert.deepEqual(ports(await take(source, (batches) => batches.length === 1)), [7]);
    await source.close();
    await bus.close();
  });

  it('fails the batches not committed when it closes, so the bus delivers them again', async () => {
    const bus = new ConcurrentBus([payload(1), payload(2)]);
    const source = new VpcKinesisSource({ bus, streams: ['vpc'], groupId: 'g' });
    const iterator = source.batches()[Symbol.asyncIterator]();
    await iterator.next();
    await source.close();
    await waitFor(() => bus.failed.length === 2, { timeoutMs: 2_000, description: 'both handlers to reject' });
    assert.deepEqual(bus.acked, []);
    assert.equal(bus.closed, true);
  });
});

/** A bus whose consumer hands every batch to the handler at once, as a Kinesis consumer reading one batch per shard does. */
class ConcurrentBus implements Bus {
  readonly kind = 'kinesis';
  readonly acked: number[] = [];
  readonly failed: number[] = [];
  closed = false;

  constructor(private readonly values: readonly Buffer[]) {}

  async ensureTopics(): Promise<void> {}

  producer(): never {
    throw new Error('not used');
  }

  consumer(): BusConsumer {
    return {
      start: async (handler: BatchHandler) => {
        this.values.forEach((value, shard) => {
          const batch: IncomingBatch = {
            topic: 'vpc',
            partition: shard,
            messages: [{ topic: 'vpc', partition: shard, offset: `${shard}000`, timestamp: 0, key: 'k', value }],
          };
          handler(batch).then(
            () => this.acked.push(shard),
            () => this.failed.push(shard),
          );
        });
      },
      pause: () => undefined,
      resume: () => undefined,
      assignment: () => [],
      close: async () => {
        this.closed = true;
      },
    };
  }

  async close(): Promise<void> {}
}
