/**
 * The embedded store: flows, alerts and response actions in one SQLite file on the machine that
 * runs the pipeline (`flowsentry run`), answering the same questions as OpenSearch
 * (`flowsentry query` without OPENSEARCH_URL).
 *
 * - **WAL mode.** Readers never wait for the writer nor block it: a `flowsentry query` in another
 *   process reads the last committed batches while the pipeline writes the next one.
 * - **One writer.** The pipeline's process writes; any other opens the file read-only
 *   (`{ readonly: true }`). A second writer is not corrupting, only waited for (busy timeout).
 * - **Durability.** `synchronous: 'full'` (the default) syncs the log at every commit, so a
 *   batch the outlet acknowledged survives a power cut; `'normal'` syncs at checkpoints only:
 *   faster, and still never corrupt, but the last batches may be lost with the machine.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Outlet } from '../outlet.js';
import type { FlowStore } from '../query/flow-store.js';
import { EmbeddedFlowStore } from './embedded-flow-store.js';
import { EmbeddedOutlet, type EmbeddedOutletOptions } from './embedded-outlet.js';
import { checkSchema, ensureSchema } from './schema.js';

export interface EmbeddedStoreOptions {
  /** Open an existing store for reading only (queries beside the writing process). */
  readonly readonly?: boolean;
  /** When commits reach the disk: at each one (`full`, the default) or at checkpoints (`normal`). */
  readonly synchronous?: 'full' | 'normal';
  /**
   * How long a statement waits for a lock another connection holds, in ms; the wait blocks the
   * thread. Default 100 for a writer (its outlet then tries again after an asynchronous back-off)
   * and 5 000 read-only.
   */
  readonly busyTimeoutMs?: number;
  readonly outlet?: EmbeddedOutletOptions;
}

export interface EmbeddedStoreCounts {
  readonly flows: number;
  readonly alerts: number;
  readonly actions: number;
}

export class EmbeddedStore {
  private writer: EmbeddedOutlet | undefined;
  private counting: Database.Statement | undefined;

  private constructor(
    /** The file, as given to `open`. */
    readonly path: string,
    private readonly db: Database.Database,
    private readonly options: EmbeddedStoreOptions,
  ) {}

  /**
   * Opens the store at `path`, creating the file, its parent directories and its tables when
   * they are missing (read-only: the file must exist and hold a store). Throws an
   * `EmbeddedSchemaError` for a file that is not a store or was written by a newer version.
   */
  static open(path: string, options: EmbeddedStoreOptions = {}): EmbeddedStore {
    const readonly = options.readonly ?? false;
    if (!readonly) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { readonly, fileMustExist: readonly, timeout: options.busyTimeoutMs ?? (readonly ? 5_000 : 100) });
    try {
      // 64 MiB of pages per connection: the indexes stay in memory while batches land all over them.
      db.pragma('cache_size = -65536');
      if (readonly) {
        checkSchema(db, path);
      } else {
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        ensureSchema(db, path);
      }
      return new EmbeddedStore(path, db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  get readonly(): boolean {
    return this.db.readonly;
  }

  /** The outlet writing into this store (one per store; its `close()` leaves the store open). */
  outlet(): Outlet {
    if (this.db.readonly) throw new Error(`${this.path}: opened read-only, no outlet`);
    this.writer ??= new EmbeddedOutlet(this.db, this.options.outlet);
    return this.writer;
  }

  /** The questions over this store's flows (its `close()` leaves the store open). */
  flowStore(): FlowStore {
    return new EmbeddedFlowStore(this.db);
  }

  /** How many records of each kind the store holds (one count over the smallest index of each table). */
  counts(): EmbeddedStoreCounts {
    this.counting ??= this.db.prepare('SELECT (SELECT count(*) FROM flows) AS flows, (SELECT count(*) FROM alerts) AS alerts, (SELECT count(*) FROM actions) AS actions');
    return { ...(this.counting.get() as EmbeddedStoreCounts) };
  }

  /** Closes the connection; writes after this throw `OutletClosedError`. Closing twice is harmless. */
  close(): void {
    if (!this.db.open) return;
    void this.writer?.close();
    if (!this.db.readonly) {
      // Statistics for the query planner, gathered on a sample (quick on big stores).
      this.db.pragma('analysis_limit = 1000');
      this.db.pragma('optimize');
    }
    this.db.close();
  }
}

/** A flow store owning its own read-only connection to the store at `path` (what `flowsentry query` uses). */
export function openEmbeddedFlowStore(path: string, options: Omit<EmbeddedStoreOptions, 'readonly'> = {}): FlowStore {
  const store = EmbeddedStore.open(path, { ...options, readonly: true });
  const flows = store.flowStore();
  return {
    flows: (filter, page) => flows.flows(filter, page),
    timeline: (request, page) => flows.timeline(request, page),
    topTalkers: (filter, request) => flows.topTalkers(filter, request),
    serviceGraph: (filter, node) => flows.serviceGraph(filter, node),
    whoTalkedTo: (ip, filter) => flows.whoTalkedTo(ip, filter),
    async close() {
      await flows.close();
      store.close();
    },
  };
}
