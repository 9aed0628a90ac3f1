/**
 * The OpenSearch outlet: records become documents (documents.ts) written by the bulk writer.
 * `start()` puts the index templates and the retention in place; without the ISM plugin it runs
 * the deletion job again every `retentionCheckMs` (default an hour).
 */
import type { Client } from '@opensearch-project/opensearch';
import { backoffDelay, sleep } from '../../runtime/backoff.js';
import { logger } from '../../runtime/log.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import { reasonOf } from '../../runtime/stage-runner.js';
import { OutletClosedError, type Outlet, type OutletRejection, type SinkItem } from '../outlet.js';
import { BulkWriter, defaultBulkBackoff, statusOfFailure, type BulkWriterOptions } from './bulk-writer.js';
import { defaultIndexNaming, documentOf, type IndexedDocument, type IndexNaming } from './documents.js';
import { defaultTemplateSettings, type TemplateSettings } from './index-templates.js';
import { applyRetention, defaultRetentionDays, deleteExpiredIndices, putIndexTemplates, type RetentionDays, type RetentionMode } from './opensearch-setup.js';

const log = logger('opensearch');

export interface OpenSearchOutletOptions extends Omit<BulkWriterOptions, 'client' | 'metrics'> {
  readonly client: Client;
  readonly metrics?: MetricsRegistry;
  readonly naming?: IndexNaming;
  readonly templateSettings?: TemplateSettings;
  readonly retentionDays?: RetentionDays;
  readonly retentionCheckMs?: number;
  /** Closes the client with the outlet (when the outlet made it). */
  readonly ownsClient?: boolean;
  readonly now?: () => number;
}

export class OpenSearchOutlet implements Outlet {
  readonly name = 'opensearch';
  private readonly writer: BulkWriter;
  private readonly naming: IndexNaming;
  private retentionTimer: NodeJS.Timeout | undefined;
  retentionMode: RetentionMode | undefined;
  private readonly closed = new AbortController();

  constructor(private readonly options: OpenSearchOutletOptions) {
    this.naming = options.naming ?? defaultIndexNaming;
    this.writer = new BulkWriter({ ...options, client: options.client, ...(options.metrics ? { metrics: options.metrics } : {}) });
  }

  /**
   * Puts the templates and the retention in place; call once before the first write. While
   * OpenSearch cannot be reached (or answers 429/5xx) it waits and tries again, as writes do;
   * any other refusal (a 403 for a role without the right to put templates) is thrown.
   */
  async start(): Promise<void> {
    const { client } = this.options;
    const now = this.options.now ?? Date.now;
    const days = this.options.retentionDays ?? defaultRetentionDays;
    for (let retry = 1; ; retry++) {
      try {
        await putIndexTemplates(client, this.options.templateSettings ?? defaultTemplateSettings, this.naming);
        this.retentionMode = await applyRetention(client, now(), days, this.naming);
        break;
      } catch (error) {
        const status = statusOfFailure(error);
        if (status !== undefined && status !== 429 && status < 500) throw error;
        if (this.closed.signal.aborted) throw new OutletClosedError('opensearch');
        log.warn(`setting up templates failed (${(error as Error).message}); trying again`, { error, retry });
        await sleep(backoffDelay(retry, this.options.backoff ?? defaultBulkBackoff, Math.random), this.closed.signal);
      }
    }
    if (this.retentionMode === 'deletion-job') {
      this.retentionTimer = setInterval(() => {
        deleteExpiredIndices(client, now(), days, this.naming).catch((error: unknown) => {
          log.warn(`retention run failed, tried again later: ${(error as Error).message}`, { error });
        });
      }, this.options.retentionCheckMs ?? 3600_000);
      this.retentionTimer.unref();
    }
  }

  async write(items: readonly SinkItem[]): Promise<readonly OutletRejection[]> {
    const unfit: OutletRejection[] = [];
    const docs: { doc: IndexedDocument; ref: SinkItem }[] = [];
    for (const item of items) {
      try {
        docs.push({ doc: documentOf(item.record, this.naming), ref: item });
      } catch (error) {
        // A record that cannot become a document (it does not fit its schema) is refused, not retried.
        unfit.push({ item, reason: reasonOf(error), message: `no document: ${(error as Error).message}` });
      }
    }
    const rejections = await this.writer.write(docs);
    return [...unfit, ...rejections.map(({ ref, reason, message }) => ({ item: ref, reason, message }))];
  }

  async close(): Promise<void> {
    this.closed.abort();
    clearInterval(this.retentionTimer);
    this.writer.close();
    if (this.options.ownsClient) await this.options.client.close();
  }
}
