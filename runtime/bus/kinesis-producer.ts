import { PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { BusProducer, OutgoingMessage } from './bus.js';
import { BusError, closedError } from './errors.js';
import { awsErrorName, isRetriable, kinesisError, kinesisLimits, retriableRecordCodes, type KinesisApi } from './kinesis-api.js';
import { encodeRecord } from './kinesis-records.js';
import { delay, Signal } from './signal.js';

export interface KinesisProducerOptions {
  /** How long a record may wait for others to fill its PutRecords request. */
  readonly lingerMs: number;
  /** `send` waits while this many bytes are buffered or in flight. */
  readonly maxBufferedBytes: number;
  /** First back-off before records that failed are sent again; doubles up to 5 s. */
  readonly retryBackoffMs: number;
  /** Attempts after the first before a failing record rejects its `send`. */
  readonly maxRetries: number;
}

export const defaultKinesisProducerOptions: KinesisProducerOptions = {
  lingerMs: 5,
  maxBufferedBytes: 32 * 1024 * 1024,
  retryBackoffMs: 100,
  maxRetries: 10,
};

/** One `send` call: settles once each of its records is acknowledged, or on the first that fails. */
interface Waiter {
  remaining: number;
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Entry {
  readonly stream: string;
  readonly record: PutRecordsRequestEntry;
  readonly bytes: number;
  readonly waiter: Waiter;
}

interface PutRequest {
  readonly stream: string;
  readonly entries: Entry[];
  bytes: number;
}

function acknowledge(entry: Entry): void {
  const waiter = entry.waiter;
  if (waiter.settled || --waiter.remaining > 0) return;
  waiter.settled = true;
  waiter.resolve();
}

function fail(entry: Entry, error: Error): void {
  if (entry.waiter.settled) return;
  entry.waiter.settled = true;
  entry.waiter.reject(error);
}

/** Cuts buffered entries into PutRecords requests within Kinesis' limits, one stream per request, in order. */
function toRequests(entries: readonly Entry[]): PutRequest[] {
  const requests: PutRequest[] = [];
  const open = new Map<string, PutRequest>();
  for (const entry of entries) {
    let request = open.get(entry.stream);
    if (
      !request ||
      request.entries.length >= kinesisLimits.recordsPerPut ||
      request.bytes + entry.bytes > kinesisLimits.bytesPerPut
    ) {
      request = { stream: entry.stream, entries: [], bytes: 0 };
      open.set(entry.stream, request);
      requests.push(request);
    }
    request.entries.push(entry);
    request.bytes += entry.bytes;
  }
  return requests;
}

/**
 * Batching in front of PutRecords: records wait at most `lingerMs`, a request goes out as soon as
 * one is full (500 records or 5 MiB), one request is in flight at a time, and the records of a
 * request that Kinesis refused one by one (`FailedRecordCount`) are sent again, alone, with
 * back-off. Kinesis may still reorder a key when one of its records failed and a later one did
 * not; with one request in flight nothing else can.
 */
export class KinesisBatchingProducer implements BusProducer {
  private pending: Entry[] = [];
  private pendingBytes = 0;
  private bufferedBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly space = new Signal();
  private closed = false;

  constructor(
    private readonly client: KinesisApi,
    private readonly options: KinesisProducerOptions = defaultKinesisProducerOptions,
  ) {}

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw closedError('the producer');
    if (messages.length === 0) return;
    const records = messages.map((message) => encodeRecord(topic, message));
    while (this.bufferedBytes >= this.options.maxBufferedBytes) {
      await this.space.wait();
      if (this.closed) throw closedError('the producer');
    }
    const delivered = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { remaining: records.length, settled: false, resolve, reject };
      for (const { entry, bytes } of records) {
        this.pending.push({ stream: topic, record: entry, bytes, waiter });
        this.pendingBytes += bytes;
        this.bufferedBytes += bytes;
      }
    });
    if (this.pending.length >= kinesisLimits.recordsPerPut || this.pendingBytes >= kinesisLimits.bytesPerPut) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
    return delivered;
  }

  /** Hands what is pending to the single in-flight slot. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const requests = toRequests(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight = this.inFlight.then(async () => {
      for (const request of requests) await this.deliver(request);
    });
  }

  private async deliver(request: PutRequest): Promise<void> {
    let entries = request.entries;
    try {
      for (let attempt = 0; entries.length > 0; attempt++) {
        if (attempt > 0) await delay(Math.min(this.options.retryBackoffMs * 2 ** (attempt - 1), 5_000));
        const failed = await this.put(request.stream, entries);
        if (failed.length > 0 && attempt >= this.options.maxRetries) {
          const codes = [...new Set(failed.map(({ code }) => code))].join(', ');
          const error = new BusError(
            'SEND_FAILED',
            `${failed.length} record(s) to stream '${request.stream}' still failed after ${attempt + 1} attempts: ${codes}`,
            true,
            request.stream,
          );
          for (const { entry } of failed) fail(entry, error);
          return;
        }
        entries = failed.map(({ entry }) => entry);
      }
    } finally {
      this.bufferedBytes -= request.bytes;
      this.space.notify();
    }
  }

  /** One PutRecords; settles what succeeded or failed for good, returns the entries worth another attempt. */
  private async put(stream: string, entries: readonly Entry[]): Promise<Array<{ entry: Entry; code: string }>> {
    let results;
    try {
      ({ Records: results } = await this.client.send(
        new PutRecordsCommand({ StreamName: stream, Records: entries.map((entry) => entry.record) }),
      ));
    } catch (cause) {
      if (isRetriable(cause)) return entries.map((entry) => ({ entry, code: awsErrorName(cause) }));
      const error = kinesisError(stream, 'PutRecords', cause);
      for (const entry of entries) fail(entry, error);
      return [];
    }
    const retry: Array<{ entry: Entry; code: string }> = [];
    entries.forEach((entry, index) => {
      const result = results?.[index];
      const code = result ? result.ErrorCode : 'MissingResult';
      if (code === undefined) acknowledge(entry);
      else if (retriableRecordCodes.has(code)) retry.push({ entry, code });
      else {
        const message = result?.ErrorMessage ?? '';
        fail(entry, new BusError('SEND_FAILED', `a record to stream '${stream}' was refused: ${code} ${message}`, false, stream));
      }
    });
    return retry;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    await this.inFlight;
    this.space.notify();
  }
}
