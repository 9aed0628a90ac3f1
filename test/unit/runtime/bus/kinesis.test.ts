import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BusError } from '../../../../runtime/bus/errors.js';
import type { KinesisApi } from '../../../../runtime/bus/kinesis-api.js';
import { eligibleShards, planLeases, shardPartition, type ShardInfo } from '../../../../runtime/bus/kinesis-shards.js';
import { waitFor } from '../../../support/wait.js';
import { collect, kinesisBus, messages, fastTuning } from '../../../support/kinesis.js';

describe('Runtime > bus > Kinesis > shards', () => {
  const shard = (partition: number, parents: number[] = []): ShardInfo => ({
    key: `s/shardId-${String(partition).padStart(12, '0')}`,
    stream: 's',
    shardId: `shardId-${String(partition).padStart(12, '0')}`,
    partition,
    parents: parents.map((parent) => `shardId-${String(parent).padStart(12, '0')}`),
  });
  const now = 1_000;
  const lease = (owner: string, expiresAt = now + 500) => ({ owner, leaseExpiresAt: expiresAt });

  it('numbers a partition by its shard id', () => {
    assert.equal(shardPartition('shardId-000000000012'), 12);
  });

  it('makes a child eligible only once every listed parent is finished', () => {
    const split = [shard(0), shard(1, [0]), shard(2, [0])];
    const keys = (list: ShardInfo[]) => list.map((info) => info.partition);
    assert.deepEqual(keys(eligibleShards(split, { shards: {}, members: {} })), [0]);
    assert.deepEqual(keys(eligibleShards(split, { shards: { [split[0]!.key]: { finished: true } }, members: {} })), [1, 2]);
    assert.deepEqual(keys(eligibleShards([shard(1, [0])], { shards: {}, members: {} })), [1], 'a parent aged out counts as finished');
    const merge = [shard(0), shard(1), shard(2, [0, 1])];
    assert.deepEqual(keys(eligibleShards(merge, { shards: { [merge[0]!.key]: { finished: true } }, members: {} })), [1]);
  });

  it('splits the eligible shards fairly between live members', () => {
    const keys = ['s/0', 's/1', 's/2'];
    const none = new Set<string>();
    assert.deepEqual(planLeases('a', keys, none, { shards: {}, members: {} }, now), { acquire: keys, release: [] });
    const two = { a: now + 500, b: now + 500 };
    assert.deepEqual(planLeases('a', keys, new Set(keys), { shards: {}, members: two }, now), { acquire: [], release: ['s/2'] });
    const held = { 's/0': lease('b'), 's/1': lease('b') };
    assert.deepEqual(planLeases('a', keys, none, { shards: held, members: two }, now), { acquire: ['s/2'], release: [] });
    const expired = { 's/0': lease('b', now - 1), 's/1': lease('b') };
    assert.deepEqual(planLeases('a', keys, none, { shards: expired, members: two }, now), { acquire: ['s/0', 's/2'], release: [] });
    const gone = { a: now + 500, b: now - 1 };
    assert.deepEqual(planLeases('a', keys, new Set(['s/0']), { shards: {}, members: gone }, now).acquire, ['s/1', 's/2']);
  });
});

interface FakeShard {
  readonly id: string;
  readonly parents: readonly string[];
  readonly values: readonly string[];
  readonly closed: boolean;
}

const fakeShard = (index: number, values: readonly string[], options: { parents?: number[]; closed?: boolean } = {}): FakeShard => ({
  id: `shardId-${String(index).padStart(12, '0')}`,
  parents: (options.parents ?? []).map((parent) => `shardId-${String(parent).padStart(12, '0')}`),
  values,
  closed: options.closed ?? false,
});

const awsError = (name: string) => Object.assign(new Error(`${name} (fake)`), { name });

/** A Kinesis of one stream in memory, speaking the commands the bus sends; sequence numbers are 1-based per shard. */
class FakeKinesis {
  readonly calls: Array<{ command: string; input: Record<string, unknown>; at: number }> = [];
  /** Per command, the errors its next calls throw ('' = no error). */
  readonly faults = new Map<string, string[]>();
  /** The ErrorCode of entry `index` of the `attempt`-th PutRecords, if it fails. */
  putFailure: (attempt: number, index: number) => string | undefined = () => undefined;
  private puts = 0;

  constructor(readonly shards: readonly FakeShard[]) {}

  get api(): KinesisApi {
    return this as unknown as KinesisApi;
  }

  callsOf(command: string) {
    return this.calls.filter((call) => call.command === command);
  }

  async send(command: { input: Record<string, unknown> }): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, '');
    const input = command.input as Record<string, never>;
    this.calls.push({ command: name, input, at: Date.now() });
    const fault = this.faults.get(name)?.shift();
    if (fault) throw awsError(fault);
    const find = (id: string) => this.shards.find((shard) => shard.id === id)!;
    switch (name) {
      case 'ListShards':
        return {
          Shards: this.shards.map((shard) => ({ ShardId: shard.id, ParentShardId: shard.parents[0], AdjacentParentShardId: shard.parents[1] })),
        };
      case 'GetShardIterator': {
        const shard = find(input.ShardId);
        const type = input.ShardIteratorType as string;
        const after = type === 'AFTER_SEQUENCE_NUMBER' ? Number(input.StartingSequenceNumber) : type === 'LATEST' ? shard.values.length : 0;
        return { ShardIterator: JSON.stringify({ id: shard.id, after }) };
      }
      case 'GetRecords': {
        const { id, after } = JSON.parse(input.ShardIterator) as { id: string; after: number };
        const shard = find(id);
        const values = shard.values.slice(after, after + (input.Limit ?? 10_000));
        const last = after + values.length;
        const records = values.map((value, i) => ({
          SequenceNumber: String(after + i + 1),
          PartitionKey: 'k',
          Data: Buffer.from(value),
          ApproximateArrivalTimestamp: new Date(),
        }));
        const ended = shard.closed && last === shard.values.length;
        return {
          Records: records,
          NextShardIterator: ended ? undefined : JSON.stringify({ id, after: last }),
          MillisBehindLatest: last < shard.values.length ? 1_000 : 0,
        };
      }
      case 'PutRecords': {
        const attempt = this.puts++;
        const results = (input.Records as unknown[]).map((_, index) => {
          const code = this.putFailure(attempt, index);
          return code ? { ErrorCode: code, ErrorMessage: 'fake' } : { SequenceNumber: String(index + 1), ShardId: this.shards[0]?.id };
        });
        return { FailedRecordCount: results.filter((result) => result.ErrorCode).length, Records: results };
      }
      default:
        throw awsError('UnsupportedOperation');
    }
  }
}

const sentValues = (call: { input: Record<string, unknown> }) =>
  (call.input.Records as Array<{ Data: Buffer }>).map((record) => Buffer.from(record.Data).toString());

describe('Runtime > bus > Kinesis > producer, with a fake client', () => {
  it('sends again only the records that failed, in their order', async () => {
    const fake = new FakeKinesis([fakeShard(0, [])]);
    const throttled = 'ProvisionedThroughputExceededException';
    fake.putFailure = (attempt, index) => (attempt === 0 && (index === 1 || index === 3) ? throttled : undefined);
    const bus = await kinesisBus({ client: fake.api });
    const producer = bus.producer();
    await producer.send('s', messages(5, 'm'));
    await producer.close();
    const puts = fake.callsOf('PutRecords');
    assert.equal(puts.length, 2);
    assert.deepEqual(sentValues(puts[0]!), ['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    assert.deepEqual(sentValues(puts[1]!), ['m-1', 'm-3']);
  });

  it('rejects once retries are spent, or at once for a record refused for good', async () => {
    const fake = new FakeKinesis([fakeShard(0, [])]);
    fake.putFailure = (_attempt, index) => (index === 0 ? 'InternalFailure' : undefined);
    const bus = await kinesisBus({ client: fake.api, producer: { lingerMs: 1, retryBackoffMs: 1, maxRetries: 2 } });
    await assert.rejects(bus.producer().send('s', messages(2, 'm')), (error: unknown) => {
      assert.ok(error instanceof BusError && error.code === 'SEND_FAILED' && error.retriable);
      assert.match(error.message, /after 3 attempts: InternalFailure/);
      return true;
    });
    fake.putFailure = () => 'KMSAccessDeniedException';
    await assert.rejects(bus.producer().send('s', messages(1, 'm')), (error: unknown) => error instanceof BusError && !error.retriable);
  });

  it('cuts requests at 500 records, one in flight at a time, and names a missing stream', async () => {
    const fake = new FakeKinesis([fakeShard(0, [])]);
    let inFlight = 0;
    let maxInFlight = 0;
    const send = fake.send.bind(fake);
    fake.send = async (command) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolveTimer) => setTimeout(resolveTimer, 5));
      try {
        return await send(command);
      } finally {
        inFlight -= 1;
      }
    };
    const bus = await kinesisBus({ client: fake.api });
    const producer = bus.producer();
    await Promise.all([producer.send('s', messages(700, 'a')), producer.send('s', messages(400, 'b'))]);
    // The first send fills a request at once (500, then its other 200); the second lingers.
    assert.deepEqual(fake.callsOf('PutRecords').map((call) => sentValues(call).length), [500, 200, 400]);
    assert.equal(maxInFlight, 1);
    fake.faults.set('PutRecords', ['ResourceNotFoundException']);
    await assert.rejects(
      producer.send('nope', messages(1, 'x')),
      (error: unknown) => error instanceof BusError && error.code === 'UNKNOWN_TOPIC',
    );
  });

  it('refuses a record over 1 MiB with a typed error, sending nothing', async () => {
    const fake = new FakeKinesis([fakeShard(0, [])]);
    const bus = await kinesisBus({ client: fake.api });
    const big = { key: 'k', value: Buffer.alloc(1024 * 1024) };
    await assert.rejects(bus.producer().send('s', [big]), (error: unknown) => {
      assert.ok(error instanceof BusError && error.code === 'INVALID_ARGUMENT' && !error.retriable);
      assert.match(error.message, /exceeds the Kinesis limit of 1048576 bytes/);
      return true;
    });
    assert.equal(fake.callsOf('PutRecords').length, 0);
  });
});

describe('Runtime > bus > Kinesis > consumer, with a fake client', () => {
  const range = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

  async function consumeAll(fake: FakeKinesis, total: number, maxBatchMessages = 3) {
    const bus = await kinesisBus({ client: fake.api, consumer: { ...fastTuning, idlePollMs: 10, renewIntervalMs: 30 } });
    const { seen, values } = await collect(bus, 's', 'g', maxBatchMessages);
    await waitFor(() => seen.length >= total, { timeoutMs: 10_000, description: `${total} records` });
    await bus.close();
    return { seen, values: values() };
  }

  it('after a split, hands the parent to the end before any child, then reads both children', async () => {
    const fake = new FakeKinesis([
      fakeShard(0, range('p', 10), { closed: true }),
      fakeShard(1, range('a', 4), { parents: [0] }),
      fakeShard(2, range('b', 4), { parents: [0] }),
    ]);
    const { values } = await consumeAll(fake, 18);
    assert.deepEqual(values.slice(0, 10), range('p', 10));
    assert.deepEqual(new Set(values.slice(10)), new Set([...range('a', 4), ...range('b', 4)]));
    const calls = fake.calls.map((call) => `${call.command}:${String(call.input.ShardId ?? call.input.ShardIterator ?? '')}`);
    const parentEnd = calls.findLastIndex((call) => call.startsWith('GetRecords') && call.includes('shardId-000000000000'));
    const firstChild = calls.findIndex((call) => /shardId-00000000000[12]/.test(call));
    assert.ok(firstChild > parentEnd, 'no child iterator before the parent was read to its end');
  });

  it('after a merge, reads the child only once both parents are finished', async () => {
    const fake = new FakeKinesis([
      fakeShard(0, range('x', 5), { closed: true }),
      fakeShard(1, range('y', 5), { closed: true }),
      fakeShard(2, range('z', 5), { parents: [0, 1] }),
    ]);
    const { values } = await consumeAll(fake, 15, 2);
    assert.deepEqual(new Set(values.slice(0, 10)), new Set([...range('x', 5), ...range('y', 5)]));
    assert.deepEqual(values.slice(10), range('z', 5));
  });

  it('backs off exponentially on throughput exceptions', async () => {
    const fake = new FakeKinesis([fakeShard(0, range('v', 5))]);
    const throttled = 'ProvisionedThroughputExceededException';
    fake.faults.set('GetRecords', [throttled, throttled, 'LimitExceededException']);
    const { values } = await consumeAll(fake, 5, 10);
    assert.deepEqual(values, range('v', 5));
    const times = fake.callsOf('GetRecords').slice(0, 4).map((call) => call.at);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    gaps.forEach((gap, i) => assert.ok(gap >= 20 * 2 ** i - 2, `gap ${i} of ${gap} ms`));
  });

  it('gets a new iterator after the last acknowledged record when one expires', async () => {
    const fake = new FakeKinesis([fakeShard(0, range('v', 9))]);
    fake.faults.set('GetRecords', ['', 'ExpiredIteratorException']);
    const { values } = await consumeAll(fake, 9, 3);
    assert.deepEqual(values, range('v', 9), 'every record once, in order');
    const iterators = fake.callsOf('GetShardIterator').map((call) => [call.input.ShardIteratorType, call.input.StartingSequenceNumber]);
    assert.deepEqual(iterators, [
      ['TRIM_HORIZON', undefined],
      ['AFTER_SEQUENCE_NUMBER', '3'],
    ]);
  });
});
