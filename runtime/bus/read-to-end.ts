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
  /** Ends the read early: it then rejects with the signal's reason, once its consumer is closed; no batch is handed over after the abort. */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

const pollMs = 25;

/** `promise`, or a rejection with the signal's reason as soon as it aborts (`promise` then goes on, unobserved). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => undefined);
  return new Promise<T>((resolvePromise, rejectPromise) => {
    const onAbort = () => rejectPromise(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolvePromise, rejectPromise).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Reads a topic from its beginning up to where it ended when the read began (a compacted
 * changelog, say), then stops. Throws when the transport cannot say where a topic ends, or when
 * the end was not reached within the timeout; rejects with the signal's reason when it aborts.
 */
export async function readToEnd(options: ReadToEndOptions): Promise<void> {
  const { bus, topic, signal } = options;
  if (!bus.endOffsets) throw new Error(`the ${bus.kind} bus cannot tell where ${topic} ends`);
  signal?.throwIfAborted();
  const now = options.now ?? Date.now;
  const ends = await unlessAborted(bus.endOffsets(topic), signal);
  const positions = new Map<number, number>();
  const caughtUp = () => [...ends].every(([partition, { first, end }]) => first === end || (positions.get(partition) ?? -1) + 1 >= Number(end));
  if (caughtUp()) return;
  const consumer = bus.consumer({ groupId: options.groupId, topics: [topic], fromBeginning: true });
  try {
    await unlessAborted(
      consumer.start(async (batch) => {
        if (signal?.aborted) return;
        await options.onBatch(batch);
        const last = batch.messages.at(-1);
        if (last) positions.set(batch.partition, Number(last.offset));
      }),
      signal,
    );
    const deadline = now() + options.timeoutMs;
    while (!caughtUp()) {
      signal?.throwIfAborted();
      if (now() > deadline) throw new Error(`${topic} was not read to its end within ${options.timeoutMs} ms`);
      await delay(pollMs);
    }
  } finally {
    await consumer.close();
  }
}
