/**
 * The embedded store's outlet: every `write` is one SQLite transaction over the batch.
 *
 * - **Idempotent, by the OpenSearch document ids.** A flow already stored (same flow id) is kept
 *   as it is; an alert replaces the stored one only when its revision is at least the stored
 *   one (OpenSearch's `external_gte`), so a late older revision counts as written and changes
 *   nothing; an action replaces the one of the same id (same action and status), as an index
 *   request does.
 * - **Refusals per record.** A record that does not fit its schema (no id can be derived) is
 *   refused as `EMBEDDED_INVALID_RECORD`; one a table constraint refuses (a negative revision, a
 *   missing time) as `EMBEDDED_<SQLite code>` (`EMBEDDED_CONSTRAINT_CHECK`, ...). Only that
 *   statement is undone: its batch-mates land in the same transaction.
 * - **Busy.** Another process writing the same file (one writer is the rule) makes the
 *   transaction wait for the lock up to the busy timeout (short: the wait blocks the thread);
 *   after that it is tried again after an asynchronous back-off, until it passes or the outlet is
 *   closed (`OutletClosedError`). Any other failure
 *   (disk full, I/O error) rolls the whole batch back and is thrown: nothing of it is committed.
 */
import type { Database, Transaction } from 'better-sqlite3';
import { backoffDelay, sleep, type BackoffPolicy } from '../../runtime/backoff.js';
import { logger } from '../../runtime/log.js';
import { OutletClosedError, type Outlet, type OutletRejection, type SinkItem, type SinkRecordKind } from '../outlet.js';
import { actionColumns, alertColumns, flowColumns, rowOf, type RecordRow } from './record-rows.js';

export interface EmbeddedOutletOptions {
  /** Between tries of a batch the database stayed locked for. */
  readonly backoff?: BackoffPolicy;
}

const log = logger('embedded');

const defaultBackoff: BackoffPolicy = { baseDelayMs: 50, maxDelayMs: 2_000 };

const placeholders = (columns: readonly string[]) => columns.map(() => '?').join(', ');
const updates = (columns: readonly string[]) =>
  columns
    .slice(1)
    .map((column) => `${column} = excluded.${column}`)
    .join(', ');

/** Whether an error is SQLite's own and says the database is locked by another connection. */
const isBusy = (error: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(codeOf(error) ?? '');

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The reason a record's statement failed for that record alone, or undefined when the failure is the database's. */
function recordReason(error: unknown): string | undefined {
  const code = codeOf(error);
  if (code !== undefined && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code)) return `EMBEDDED_${code.slice('SQLITE_'.length)}`;
  // better-sqlite3 refuses to bind a value SQLite has no type for (a boolean, an object).
  if (error instanceof TypeError || error instanceof RangeError) return 'EMBEDDED_INVALID_RECORD';
  return undefined;
}

type Row = { readonly row: RecordRow; readonly item: SinkItem };

export class EmbeddedOutlet implements Outlet {
  readonly name = 'embedded';
  private readonly insert: Readonly<Record<SinkRecordKind, (row: RecordRow) => void>>;
  private readonly inTransaction: Transaction<(rows: readonly Row[]) => OutletRejection[]>;
  private readonly closed = new AbortController();

  constructor(
    private readonly db: Database,
    private readonly options: EmbeddedOutletOptions = {},
  ) {
    const flow = db.prepare(`INSERT INTO flows (${flowColumns.join(', ')}) VALUES (${placeholders(flowColumns)}) ON CONFLICT (end_time, flow_id) DO NOTHING`);
    const flowRecord = db.prepare('INSERT INTO flow_records (id, record) VALUES (?, ?)');
    const unflow = db.prepare('DELETE FROM flows WHERE id = ?');
    const alertRecordColumns = [...alertColumns, 'record'];
    const alert = db.prepare(
      `INSERT INTO alerts (${alertRecordColumns.join(', ')}) VALUES (${placeholders(alertRecordColumns)})
       ON CONFLICT (alert_id) DO UPDATE SET ${updates(alertRecordColumns)} WHERE excluded.revision >= alerts.revision`,
    );
    const actionRecordColumns = [...actionColumns, 'record'];
    const action = db.prepare(`INSERT INTO actions (${actionRecordColumns.join(', ')}) VALUES (${placeholders(actionRecordColumns)}) ON CONFLICT (id) DO UPDATE SET ${updates(actionRecordColumns)}`);
    this.insert = {
      flow: (row) => {
        const { changes, lastInsertRowid } = flow.run(row.cells);
        if (changes === 0) return; // stored already
        try {
          flowRecord.run(lastInsertRowid, row.record);
        } catch (error) {
          unflow.run(lastInsertRowid);
          throw error;
        }
      },
      alert: (row) => alert.run([...row.cells, row.record]),
      action: (row) => action.run([...row.cells, row.record]),
    };
    // Every row in one transaction; the rows a constraint refuses come back, the rest is committed.
    this.inTransaction = db.transaction((rows: readonly Row[]) => {
      const rejections: OutletRejection[] = [];
      for (const { row, item } of rows) {
        try {
          this.insert[row.kind](row);
        } catch (error) {
          const reason = recordReason(error);
          if (reason === undefined) throw error;
          rejections.push({ item, reason, message: `${row.kind} ${row.id}: ${(error as Error).message}` });
        }
      }
      return rejections;
    });
  }

  async write(items: readonly SinkItem[]): Promise<readonly OutletRejection[]> {
    if (this.closed.signal.aborted || !this.db.open) throw new OutletClosedError(this.name);
    const unfit: OutletRejection[] = [];
    const rows: Row[] = [];
    for (const item of items) {
      try {
        rows.push({ row: rowOf(item.record), item });
      } catch (error) {
        unfit.push({ item, reason: 'EMBEDDED_INVALID_RECORD', message: `${item.record.kind}: ${(error as Error).message}` });
      }
    }
    for (let retry = 1; ; retry++) {
      try {
        return [...unfit, ...this.inTransaction.immediate(rows)];
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (this.closed.signal.aborted || !this.db.open) throw new OutletClosedError(this.name);
        if (retry === 1) log.warn(`the store is locked by another writer (${(error as Error).message}); trying again until it is not`, { error });
        await sleep(backoffDelay(retry, this.options.backoff ?? defaultBackoff, Math.random), this.closed.signal);
        if (this.closed.signal.aborted) throw new OutletClosedError(this.name);
      }
    }
  }

  /** Refuses further writes; the connection is the store's (`EmbeddedStore.close()`). */
  async close(): Promise<void> {
    this.closed.abort();
  }
}
