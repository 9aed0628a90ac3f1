import type { Bus, IncomingBatch } from './bus.js';
import { delay } from './signal.js';

export interface ReadToEndOptions {
  readonly bus: Bus;
  readonly topic: string;
  /** A group of its own, so the read neither takes partitions from nor commits for anyone else. */
  readonly groupId: string;
  readonly onBatch: (batch: IncomingBatch) => void | Promise<void>;
  /** Longest the read may take, milliseconds. */
  readonly timeoutMs: number;
  readonly now?: () => number;
}

const pollMs = 25;

/**
 * Reads a topic from its beginning up to where it ended when the read began (a compacted
 * changelog, say), then stops. Throws when the transport cannot say where a topic ends, or when
 * the end was not reached within the timeout.
 */
export async function readToEnd(options: ReadToEndOptions): Promise<void> {
  const { bus, topic } = options;
  if (!bus.endOffsets) throw new Error(`the ${bus.kind} bus cannot tell where ${topic} ends`);
  const now = options.now ?? Date.now;
  const ends = await bus.endOffsets(topic);
  const positions = new Map<number, number>();
  const caughtUp = () => [...ends].every(([partition, { first, end }]) => first === end || (positions.get(partition) ?? -1) + 1 >= Number(end));
  if (caughtUp()) return;
  const consumer = bus.consumer({ groupId: options.groupId, topics: [topic], fromBeginning: true });
  try {
    await consumer.start(async (batch) => {
      await options.onBatch(batch);
      const last = batch.messages.at(-1);
      if (last) positions.set(batch.partition, Number(last.offset));
    });
    const deadline = now() + options.timeoutMs;
    while (!caughtUp()) {
      if (now() > deadline) throw new Error(`${topic} was not read to its end within ${options.timeoutMs} ms`);
      await delay(pollMs);
    }
  } finally {
    await consumer.close();
  }
}
