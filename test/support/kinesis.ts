/** Shared set-up of the Kinesis bus tests: fast tuning, a fresh checkpoint directory per bus. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { IncomingMessage, OutgoingMessage } from '../../runtime/bus/bus.js';
import { KinesisBus, type KinesisBusOptions } from '../../runtime/bus/kinesis-bus.js';
import type { KinesisConsumerTuning } from '../../runtime/bus/kinesis-consumer.js';

const dirs: string[] = [];

/** A temporary directory, removed after the test file. */
export async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flowsentry-kinesis-'));
  if (dirs.length === 0) after(() => Promise.all(dirs.map((path) => rm(path, { recursive: true, force: true }))));
  dirs.push(dir);
  return dir;
}

export const fastTuning: Partial<KinesisConsumerTuning> = {
  leaseMs: 10_000,
  renewIntervalMs: 100,
  shardSyncIntervalMs: 2_000,
  idlePollMs: 50,
  retryBackoffMs: 20,
  throttleBackoffMs: 20,
  maxBackoffMs: 500,
};

export const kinesisBus = async (options: Partial<KinesisBusOptions> = {}) =>
  new KinesisBus({ checkpoints: await freshDir(), consumer: fastTuning, producer: { lingerMs: 2, retryBackoffMs: 5 }, ...options });

export const messages = (count: number, tag: string): OutgoingMessage[] =>
  Array.from({ length: count }, (_, i) => ({ key: `key-${i % 7}`, value: Buffer.from(`${tag}-${i}`) }));

/** Starts a consumer of `topic` that records every message it is handed. */
export async function collect(bus: KinesisBus, topic: string, groupId: string, maxBatchMessages?: number) {
  const seen: IncomingMessage[] = [];
  const consumer = bus.consumer({ groupId, topics: [topic], ...(maxBatchMessages ? { maxBatchMessages } : {}) });
  await consumer.start(async (batch) => {
    seen.push(...batch.messages);
  });
  const values = () => seen.map((message) => message.value.toString());
  return { seen, values, consumer };
}
