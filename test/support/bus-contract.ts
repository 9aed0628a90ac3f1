/**
 * The contract every bus implementation passes (in-process, Kafka, Kinesis). Each suite
 * creates fresh, uniquely named topics and groups; waits poll, they never sleep blindly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Bus, BusConsumer, IncomingBatch, OutgoingMessage } from '../../runtime/bus/bus.js';
import { BusError } from '../../runtime/bus/errors.js';
import { uniqueName, waitFor } from './wait.js';

export interface BusContractSubject {
  readonly name: string;
  /** A bus client; called once per suite. */
  create(): Promise<Bus>;
  readonly partitions: number;
  /** How long to wait for deliveries and rebalances. */
  readonly timeoutMs: number;
  /** Whether the transport tells where partitions end (Kafka and in-process do, Kinesis does not). */
  readonly endOffsets: boolean;
}

const messagesFor = (keys: number, perKey: number, tag = ''): OutgoingMessage[] =>
  Array.from({ length: keys * perKey }, (_, i) => {
    const key = `key-${i % keys}`;
    return { key, value: Buffer.from(`${key}:${Math.floor(i / keys)}${tag}`) };
  });

const valuesOf = (batch: IncomingBatch) => batch.messages.map((message) => message.value.toString());

/** A consumer whose handler records what it sees, with per-test behaviour. */
function recorder(consumer: BusConsumer, behaviour: (batch: IncomingBatch, seen: string[]) => Promise<void> = async () => undefined) {
  const seen: string[] = [];
  const start = () =>
    consumer.start(async (batch) => {
      await behaviour(batch, seen);
      seen.push(...valuesOf(batch));
    });
  return { seen, start, consumer };
}

export function busContract(subject: BusContractSubject): void {
  describe(`Bus contract > ${subject.name}`, () => {
    let bus: Bus;
    const wait = { timeoutMs: subject.timeoutMs };
    const freshTopic = async (prefix: string) => {
      const name = uniqueName(prefix);
      await bus.ensureTopics([{ name, partitions: subject.partitions }]);
      return name;
    };
    const send = async (topic: string, messages: readonly OutgoingMessage[]) => {
      const producer = bus.producer();
      await producer.send(topic, messages);
      await producer.close();
    };

    before(async () => {
      bus = await subject.create();
    });
    after(async () => {
      await bus.close();
    });

    it('keeps the order of the messages of each key', async () => {
      const topic = await freshTopic('order');
      const producer = bus.producer();
      const all = messagesFor(10, 30);
      for (let i = 0; i < all.length; i += 50) await producer.send(topic, all.slice(i, i + 50));
      await producer.close();

      const { seen, start, consumer } = recorder(bus.consumer({ groupId: uniqueName('order'), topics: [topic] }));
      await start();
      await waitFor(() => seen.length >= all.length, { ...wait, description: `${all.length} messages` });
      await consumer.close();
      assert.equal(seen.length, all.length);
      for (let key = 0; key < 10; key++) {
        const sequence = seen.filter((value) => value.startsWith(`key-${key}:`)).map((value) => Number(value.split(':')[1]));
        assert.deepEqual(sequence, Array.from({ length: 30 }, (_, i) => i), `order of key-${key}`);
      }
    });

    it(subject.endOffsets ? 'tells where each partition ends' : 'says it cannot tell where partitions end', async () => {
      assert.equal(typeof bus.endOffsets, subject.endOffsets ? 'function' : 'undefined');
      if (!bus.endOffsets) return;
      const topic = await freshTopic('ends');
      const all = messagesFor(6, 5);
      await send(topic, all);
      const ends = await bus.endOffsets(topic);
      assert.equal(ends.size, subject.partitions);
      assert.equal([...ends.values()].reduce((sum, bounds) => sum + Number(bounds.end) - Number(bounds.first), 0), all.length);
      const { seen, start, consumer } = recorder(bus.consumer({ groupId: uniqueName('ends'), topics: [topic] }));
      const lastOffsets = new Map<number, number>();
      const origin = consumer.start.bind(consumer);
      consumer.start = (handler) => origin(async (batch) => {
        lastOffsets.set(batch.partition, Number(batch.messages[batch.messages.length - 1]!.offset));
        await handler(batch);
      });
      await start();
      await waitFor(() => seen.length >= all.length, { ...wait, description: `${all.length} messages` });
      await consumer.close();
      for (const [partition, { end }] of ends) {
        if (end !== '0') assert.equal(lastOffsets.get(partition)! + 1, Number(end), `partition ${partition} ends after its last message`);
      }
    });

    it('loses nothing across a consumer restart, and repeats nothing after a clean close', async () => {
      const topic = await freshTopic('restart');
      const all = messagesFor(8, 25);
      await send(topic, all);
      const groupId = uniqueName('restart');

      const first = recorder(bus.consumer({ groupId, topics: [topic], maxBatchMessages: 10 }), async (_batch, seen) => {
        if (seen.length >= 50) throw new Error('this member stops acknowledging');
      });
      await first.start();
      await waitFor(() => first.seen.length >= 50, { ...wait, description: 'the first consumer to get 50 messages' });
      await first.consumer.close();
      assert.ok(first.seen.length < all.length, 'the first consumer stopped before the end');

      const second = recorder(bus.consumer({ groupId, topics: [topic], maxBatchMessages: 10 }));
      await second.start();
      await waitFor(() => first.seen.length + second.seen.length >= all.length, { ...wait, description: 'the rest' });
      await second.consumer.close();
      const together = [...first.seen, ...second.seen];
      assert.equal(new Set(together).size, all.length, 'every message seen');
      assert.equal(together.length, all.length, 'none seen twice');
    });

    it('delivers a batch again when its handler rejects', async () => {
      const topic = await freshTopic('retry');
      await send(topic, messagesFor(1, 20));
      let failed: string[] | undefined;
      const { seen, start, consumer } = recorder(
        bus.consumer({ groupId: uniqueName('retry'), topics: [topic] }),
        async (batch) => {
          if (!failed) {
            failed = valuesOf(batch);
            throw new Error('outlet unavailable');
          }
        },
      );
      await start();
      await waitFor(() => seen.length >= 20, { ...wait, description: 'all 20 after the retry' });
      await consumer.close();
      assert.ok(failed && failed.length > 0);
      assert.deepEqual(seen.slice(0, failed.length), failed, 'the failed batch came back first');
      assert.equal(new Set(seen).size, 20);
    });

    it('gives what a closed consumer never acknowledged to the next member of its group', async () => {
      const topic = await freshTopic('unacked');
      const all = messagesFor(4, 10);
      await send(topic, all);
      const groupId = uniqueName('unacked');
      let attempts = 0;
      const failing = recorder(bus.consumer({ groupId, topics: [topic] }), async () => {
        attempts += 1;
        throw new Error('stage crashed before acknowledging');
      });
      await failing.start();
      await waitFor(() => attempts > 0, { ...wait, description: 'a first delivery' });
      await failing.consumer.close();
      assert.equal(failing.seen.length, 0);

      const next = recorder(bus.consumer({ groupId, topics: [topic] }));
      await next.start();
      await waitFor(() => next.seen.length >= all.length, { ...wait, description: 'the unacknowledged messages' });
      await next.consumer.close();
      assert.deepEqual(new Set(next.seen), new Set(all.map((message) => message.value.toString())));
    });

    it('bounds what is in flight by the batch size, and holds delivery while paused', async () => {
      const topic = await freshTopic('backpressure');
      const maxBatchMessages = 25;
      await send(topic, messagesFor(6, 50));
      let inFlight = 0;
      let maxInFlight = 0;
      let release: () => void = () => undefined;
      let gate: Promise<void> | undefined = new Promise((resolveGate) => (release = resolveGate));
      const { seen, start, consumer } = recorder(
        bus.consumer({ groupId: uniqueName('backpressure'), topics: [topic], maxBatchMessages }),
        async (batch) => {
          inFlight += batch.messages.length;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await gate;
          inFlight -= batch.messages.length;
        },
      );
      await start();
      await waitFor(() => inFlight > 0, { ...wait, description: 'a first batch' });
      consumer.pause();
      gate = undefined;
      release();
      const settled = seen.length;
      await waitFor(() => seen.length > 0, { ...wait, description: 'the first batch to finish' });
      const afterPause = await new Promise<number>((resolveCount) => setTimeout(() => resolveCount(seen.length), 500));
      assert.ok(afterPause - settled <= maxBatchMessages * subject.partitions, 'at most the batches already in flight finished while paused');
      consumer.resume();
      await waitFor(() => seen.length >= 300, { ...wait, description: 'the rest after resume' });
      await consumer.close();
      assert.ok(maxInFlight <= maxBatchMessages * subject.partitions, `in flight ${maxInFlight}`);
      assert.equal(new Set(seen).size, 300);
    });

    it('closes cleanly: no delivery after close, and a closed producer refuses to send', async () => {
      const topic = await freshTopic('close');
      await send(topic, messagesFor(2, 10));
      const { seen, start, consumer } = recorder(bus.consumer({ groupId: uniqueName('close'), topics: [topic] }));
      await start();
      await waitFor(() => seen.length >= 20, { ...wait, description: '20 messages' });
      await consumer.close();
      const count = seen.length;
      await send(topic, messagesFor(2, 5, '-late'));
      await new Promise((resolveTimer) => setTimeout(resolveTimer, 200));
      assert.equal(seen.length, count);

      const producer = bus.producer();
      await producer.close();
      await assert.rejects(producer.send(topic, messagesFor(1, 1)), (error: unknown) => {
        assert.ok(error instanceof BusError);
        assert.equal(error.code, 'BUS_CLOSED');
        return true;
      });
    });

    it('splits the partitions between two members of a group, which together see every message once', async () => {
      const topic = await freshTopic('group');
      const groupId = uniqueName('group');
      const one = recorder(bus.consumer({ groupId, topics: [topic] }));
      const two = recorder(bus.consumer({ groupId, topics: [topic] }));
      await one.start();
      await two.start();
      await waitFor(
        () => {
          const a = one.consumer.assignment().length;
          const b = two.consumer.assignment().length;
          return a > 0 && b > 0 && a + b === subject.partitions;
        },
        { ...wait, description: 'both members to hold partitions' },
      );
      const all = messagesFor(12, 20);
      await send(topic, all);
      await waitFor(() => one.seen.length + two.seen.length >= all.length, { ...wait, description: 'every message' });
      await Promise.all([one.consumer.close(), two.consumer.close()]);
      assert.ok(one.seen.length > 0 && two.seen.length > 0, 'both members received messages');
      const together = [...one.seen, ...two.seen];
      assert.equal(together.length, all.length);
      assert.equal(new Set(together).size, all.length);
    });
  });
}
