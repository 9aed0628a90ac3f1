/**
 * Bulk writes to OpenSearch that lose nothing and write nothing twice.
 *
 * - Every document goes as an `index` action with its own deterministic id (see documents.ts),
 *   so writing it again (a retry, a record re-produced upstream) replaces it with itself.
 *   Alerts carry an external version (`external_gte`): a late older revision is refused with a
 *   version conflict, which counts as written.
 * - Requests are cut below `maxRequestBytes` and `maxRequestDocs`; a document that alone
 *   exceeds the byte limit is rejected (OPENSEARCH_DOCUMENT_TOO_LARGE) instead of sent. A 413
 *   answer halves the request and sends both halves.
 * - Per item: 2xx (and a version conflict on a versioned document) is written; 429 and 5xx are
 *   retried, only those items, with exponential back-off and full jitter; anything else
 *   (mapper_parsing_exception, ...) is a permanent rejection with OpenSearch's reason, while its
 *   batch-mates land.
 * - A failed request (connection refused, timeout, 429, 5xx, 401/403 while credentials rotate)
 *   is retried whole, without a limit on attempts: the caller is waiting and pauses its input.
 *   `close()` ends the waiting; the write then rejects and nothing is committed.
 *
 * The client's bulk helper is not used: its defaults retry only whole 429 answers and hand other
 * failed items to an `onDrop` callback that does nothing unless given one.
 */
import type { Client } from '@opensearch-project/opensearch';
import { backoffDelay, sleep, type BackoffPolicy } from '../../runtime/backoff.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import { OutletClosedError } from '../outlet.js';
import { sourceOf, type IndexedDocument } from './documents.js';

export interface BulkWriterOptions {
  readonly client: Client;
  /** Upper bound of one request's body. Default 5 MiB. */
  readonly maxRequestBytes?: number;
  /** Upper bound of one request's documents. Default 2,000. */
  readonly maxRequestDocs?: number;
  /** Requests in flight at once, across every `write` in progress. Default 2. */
  readonly concurrency?: number;
  readonly backoff?: BackoffPolicy;
  readonly metrics?: MetricsRegistry;
  readonly random?: () => number;
}

export interface BulkRejection<T> {
  readonly ref: T;
  readonly reason: string;
  readonly message: string;
}

export const defaultBulkBackoff: BackoffPolicy = { baseDelayMs: 200, maxDelayMs: 30_000 };

interface Entry<T> {
  readonly ref: T;
  readonly text: string;
  readonly bytes: number;
  readonly versioned: boolean;
  readonly id: string;
}

interface BulkItemResult {
  readonly status: number;
  readonly error?: { readonly type?: string; readonly reason?: string; readonly caused_by?: { readonly reason?: string } };
}

/** The action and source lines of one document, ending in a newline. */
export function bulkLines(doc: IndexedDocument): string {
  const action =
    doc.version === undefined
      ? { index: { _index: doc.index, _id: doc.id } }
      : { index: { _index: doc.index, _id: doc.id, version: doc.version, version_type: 'external_gte' } };
  return `${JSON.stringify(action)}\n${sourceOf(doc)}\n`;
}

/** OPENSEARCH_MAPPER_PARSING_EXCEPTION for `mapper_parsing_exception`. */
export function reasonCodeOf(errorType: string | undefined): string {
  return `OPENSEARCH_${(errorType ?? 'unknown_error').toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/** What OpenSearch's request check would refuse a whole bulk request for, found before sending. */
export function documentProblem(doc: IndexedDocument): string | undefined {
  const idBytes = Buffer.byteLength(doc.id);
  if (idBytes === 0 || idBytes > 512) return `an id of ${idBytes} bytes (1 to 512 allowed)`;
  if (doc.version !== undefined && !(Number.isSafeInteger(doc.version) && doc.version >= 0)) return `version ${doc.version} is not a whole number >= 0`;
  if (doc.index.length === 0 || doc.index !== doc.index.toLowerCase() || Buffer.byteLength(doc.index) > 255) return `index name '${doc.index}' is not a lower-case name of at most 255 bytes`;
  return undefined;
}

const isRetriableStatus = (status: number) => status === 429 || status >= 500;

/** The HTTP status of a failed request, or undefined when no answer came (refused, reset, timeout). */
export function statusOfFailure(error: unknown): number | undefined {
  const status = (error as { meta?: { statusCode?: unknown } } | null)?.meta?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function describeFailure(error: unknown): string {
  const status = statusOfFailure(error);
  const name = (error as Error | null)?.name ?? 'Error';
  return status !== undefined ? `HTTP ${status}` : `${name}: ${(error as Error | null)?.message ?? String(error)}`;
}

export class BulkWriter {
  private readonly maxRequestBytes: number;
  private readonly maxRequestDocs: number;
  private readonly concurrency: number;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly aborted = new AbortController();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly counters;

  constructor(private readonly options: BulkWriterOptions) {
    this.maxRequestBytes = options.maxRequestBytes ?? 5 * 1024 * 1024;
    this.maxRequestDocs = options.maxRequestDocs ?? 2_000;
    this.concurrency = options.concurrency ?? 2;
    this.backoff = options.backoff ?? defaultBulkBackoff;
    this.random = options.random ?? Math.random;
    const metrics = options.metrics;
    this.counters = metrics
      ? {
          docs: metrics.counter('flowsentry_opensearch_documents_total', 'Documents sent to OpenSearch, by outcome (written, rejected).'),
          requests: metrics.counter('flowsentry_opensearch_bulk_requests_total', 'Bulk requests sent to OpenSearch.'),
          retries: metrics.counter('flowsentry_opensearch_retries_total', 'Bulk retries, by cause (item status, request failure).'),
        }
      : undefined;
  }

  /** Writes every document; resolves with the ones OpenSearch refused for good. */
  async write<T>(docs: readonly { readonly doc: IndexedDocument; readonly ref: T }[]): Promise<BulkRejection<T>[]> {
    const rejections: BulkRejection<T>[] = [];
    const entries: Entry<T>[] = [];
    for (const { doc, ref } of docs) {
      const text = bulkLines(doc);
      const bytes = Buffer.byteLength(text);
      const problem = documentProblem(doc);
      if (problem) {
        rejections.push({ ref, reason: 'OPENSEARCH_INVALID_DOCUMENT', message: `${doc.index}/${doc.id.slice(0, 100)}: ${problem}` });
      } else if (bytes > this.maxRequestBytes) {
        rejections.push({ ref, reason: 'OPENSEARCH_DOCUMENT_TOO_LARGE', message: `${doc.index}/${doc.id}: ${bytes} bytes, over the request limit of ${this.maxRequestBytes}` });
      } else {
        entries.push({ ref, text, bytes, versioned: doc.version !== undefined, id: `${doc.index}/${doc.id}` });
      }
    }
    const requests = this.cut(entries);
    await Promise.all(
      requests.map(async (request) => {
        await this.slot();
        try {
          rejections.push(...(await this.send(request)));
        } finally {
          this.release();
        }
      }),
    );
    this.counters?.docs.inc({ outcome: 'rejected' }, rejections.length);
    this.counters?.docs.inc({ outcome: 'written' }, docs.length - rejections.length);
    return rejections;
  }

  close(): void {
    this.aborted.abort();
  }

  /** Waits for one of the `concurrency` request slots. */
  private async slot(): Promise<void> {
    if (this.inFlight < this.concurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolveSlot) => this.waiting.push(resolveSlot));
  }

  /** Hands the slot to the next waiting request, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }

  private cut<T>(entries: readonly Entry<T>[]): Entry<T>[][] {
    const requests: Entry<T>[][] = [];
    let current: Entry<T>[] = [];
    let bytes = 0;
    for (const entry of entries) {
      if (current.length > 0 && (bytes + entry.bytes > this.maxRequestBytes || current.length >= this.maxRequestDocs)) {
        requests.push(current);
        current = [];
        bytes = 0;
      }
      current.push(entry);
      bytes += entry.bytes;
    }
    if (current.length > 0) requests.push(current);
    return requests;
  }

  /** Sends one request until every item is written or rejected for good. */
  private async send<T>(request: readonly Entry<T>[]): Promise<BulkRejection<T>[]> {
    const rejections: BulkRejection<T>[] = [];
    let pending = request;
    for (let retry = 0; pending.length > 0; ) {
      if (this.aborted.signal.aborted) throw new OutletClosedError('opensearch');
      let items: readonly BulkItemResult[];
      try {
        this.counters?.requests.inc();
        const response = await this.options.client.bulk({ body: pending.map((entry) => entry.text).join('') as never });
        items = (response.body as { items: readonly Record<string, BulkItemResult>[] }).items.map((item) => Object.values(item)[0]!);
      } catch (error) {
        const status = statusOfFailure(error);
        const refused = status !== undefined && status >= 400 && status < 500 && status !== 429 && status !== 401 && status !== 403 && status !== 408;
        if (refused && pending.length > 1) {
          // Too large (413), or one document the request check refuses (400): halve until the culprit stands alone.
          const half = Math.ceil(pending.length / 2);
          for (const part of [pending.slice(0, half), pending.slice(half)]) rejections.push(...(await this.send(part)));
          return rejections;
        }
        if (refused) {
          const entry = pending[0]!;
          rejections.push({ ref: entry.ref, reason: `OPENSEARCH_HTTP_${status}`, message: `${entry.id}: bulk request refused, ${describeFailure(error)}` });
          return rejections;
        }
        this.counters?.retries.inc({ cause: status !== undefined ? `request ${status}` : 'request failed' });
        await sleep(backoffDelay(++retry, this.backoff, this.random), this.aborted.signal);
        continue;
      }
      const again: Entry<T>[] = [];
      pending.forEach((entry, i) => {
        const item = items[i];
        if (item && (item.status < 300 || (item.status === 409 && entry.versioned))) return;
        if (!item || isRetriableStatus(item.status)) {
          this.counters?.retries.inc({ cause: item ? `item ${item.status}` : 'item missing' });
          again.push(entry);
          return;
        }
        const detail = item.error?.caused_by?.reason ? `${item.error.reason}: ${item.error.caused_by.reason}` : (item.error?.reason ?? `status ${item.status}`);
        rejections.push({ ref: entry.ref, reason: reasonCodeOf(item.error?.type), message: `${entry.id}: ${detail}` });
      });
      pending = again;
      if (pending.length > 0) await sleep(backoffDelay(++retry, this.backoff, this.random), this.aborted.signal);
    }
    return rejections;
  }
}
