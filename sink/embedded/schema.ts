/**
 * The embedded store's tables, one per kind: each record as its JSON (`record`, returned as it
 * was written) and the columns queries filter on, and the indexes those filters use.
 *
 * - `flows`: unique on (end_time, flow_id), which is both the idempotency key (the flow id is a
 *   hash of the whole record, end time included) and the order pages are read in. Each end's
 *   address is also kept as `*_ip_key`, 32 hex digits of its 128-bit value (IPv4 as
 *   IPv4-mapped IPv6, as OpenSearch's `ip` type), so a CIDR block is one index range; `bytes`
 *   (both directions) lets aggregations sum in SQL. The record itself is in `flow_records`,
 *   under the same `id`: the rows scans and aggregations read stay narrow (a couple of hundred
 *   bytes, against more than a kilobyte of JSON).
 * - `alerts`: one row per episode (`alert_id`), the newest `revision` kept.
 * - `actions`: one row per action id and status (the OpenSearch document id).
 * - `schema_version`: one row, the version of these definitions. A store written by a newer
 *   version is refused rather than misread.
 */
import type { Database } from 'better-sqlite3';

export const embeddedSchemaVersion = 1;

const definitions = `
CREATE TABLE schema_version (
  version INTEGER NOT NULL
);

CREATE TABLE flows (
  id INTEGER PRIMARY KEY,
  flow_id TEXT NOT NULL CHECK (length(flow_id) = 27),
  end_time INTEGER NOT NULL CHECK (typeof(end_time) = 'integer'),
  start_time INTEGER NOT NULL CHECK (typeof(start_time) = 'integer'),
  source_ip TEXT,
  source_ip_key TEXT,
  source_port INTEGER,
  source_namespace TEXT,
  source_name TEXT,
  source_name_aggr TEXT NOT NULL,
  source_workload TEXT,
  dest_ip TEXT,
  dest_ip_key TEXT,
  dest_port INTEGER,
  dest_namespace TEXT,
  dest_name TEXT,
  dest_name_aggr TEXT NOT NULL,
  dest_workload TEXT,
  proto INTEGER NOT NULL,
  action TEXT NOT NULL,
  reporter TEXT NOT NULL,
  host TEXT NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE TABLE flow_records (
  id INTEGER PRIMARY KEY,
  record TEXT NOT NULL
);
CREATE UNIQUE INDEX flows_position ON flows (end_time, flow_id);
CREATE INDEX flows_source_ip ON flows (source_ip_key, end_time);
CREATE INDEX flows_dest_ip ON flows (dest_ip_key, end_time);
CREATE INDEX flows_source_namespace ON flows (source_namespace, end_time);
CREATE INDEX flows_dest_namespace ON flows (dest_namespace, end_time);

CREATE TABLE alerts (
  alert_id TEXT NOT NULL PRIMARY KEY CHECK (length(alert_id) > 0),
  revision INTEGER NOT NULL CHECK (typeof(revision) = 'integer' AND revision >= 0),
  opened_at INTEGER NOT NULL CHECK (typeof(opened_at) = 'integer'),
  start_time INTEGER NOT NULL CHECK (typeof(start_time) = 'integer'),
  end_time INTEGER NOT NULL CHECK (typeof(end_time) = 'integer'),
  detector TEXT NOT NULL,
  severity TEXT NOT NULL,
  status TEXT,
  source_ip TEXT,
  dest_ip TEXT,
  record TEXT NOT NULL
);
CREATE INDEX alerts_end ON alerts (end_time);

CREATE TABLE actions (
  id TEXT NOT NULL PRIMARY KEY,
  action_id TEXT NOT NULL CHECK (length(action_id) > 0),
  alert_id TEXT,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  requested_at INTEGER NOT NULL CHECK (typeof(requested_at) = 'integer'),
  record TEXT NOT NULL
);
CREATE INDEX actions_requested ON actions (requested_at);
CREATE INDEX actions_alert ON actions (alert_id);
`;

/** What opening found wrong with a file: not a store, or one of a newer version. */
export class EmbeddedSchemaError extends Error {
  override readonly name = 'EmbeddedSchemaError';
  constructor(
    readonly code: 'EMBEDDED_NOT_A_STORE' | 'EMBEDDED_SCHEMA_NEWER',
    message: string,
  ) {
    super(message);
  }
}

const hasTable = (db: Database, name: string) => db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;

/** The version a store file holds, or undefined when it has no tables of ours yet. */
export function storedSchemaVersion(db: Database): number | undefined {
  if (!hasTable(db, 'schema_version')) return undefined;
  const row = db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null };
  return row.version ?? undefined;
}

function checkVersion(path: string, version: number): void {
  if (version > embeddedSchemaVersion) {
    throw new EmbeddedSchemaError('EMBEDDED_SCHEMA_NEWER', `${path}: store schema version ${version}, this flowsentry knows up to ${embeddedSchemaVersion} (written by a newer version)`);
  }
}

/** Creates the tables of an empty file (in one immediate transaction: two writers starting together create them once). */
export function ensureSchema(db: Database, path: string): void {
  db.transaction(() => {
    const version = storedSchemaVersion(db);
    if (version !== undefined) return checkVersion(path, version);
    if (hasTable(db, 'flows')) throw new EmbeddedSchemaError('EMBEDDED_NOT_A_STORE', `${path}: has a flows table but no schema version: not a flowsentry store`);
    db.exec(definitions);
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(embeddedSchemaVersion);
  }).immediate();
}

/** For a reader: the file must hold a store of a version it can read. */
export function checkSchema(db: Database, path: string): void {
  const version = storedSchemaVersion(db);
  if (version === undefined) throw new EmbeddedSchemaError('EMBEDDED_NOT_A_STORE', `${path}: no flowsentry store in this file (no schema version)`);
  checkVersion(path, version);
}
