import type { RawFlow } from '../schemas/types.js';

/** Where a bad line or record came from: a file and line, or a stream position. */
export interface SourceLocation {
  readonly source: string;
  readonly line?: number;
  readonly offset?: string;
}

/** A line or record a parser could not turn into a flow. It goes to the dead-letter path; the stream goes on. */
export interface ParseProblem {
  readonly location: SourceLocation;
  /** Stable code, counted in metrics: INGEST_BAD_LINE, INGEST_BAD_FIELD, ... */
  readonly reason: string;
  readonly message: string;
  readonly original: Buffer;
}

/** What a source yields: the flows and problems of a stretch of input, and how far it got. */
export interface SourceBatch<Position = unknown> {
  readonly flows: readonly RawFlow[];
  readonly problems: readonly ParseProblem[];
  /** Everything before this position is in `flows` or `problems`; passed back to `commit`. */
  readonly position: Position;
}

/** A producer of RawFlow records: conntrack, Calico flow-log files, VPC flow logs. */
export interface FlowSource<Position = unknown> {
  readonly name: string;
  /** Batches in input order, resuming after the last committed position; ends when the input ends (or on close, for a follower). */
  batches(): AsyncIterable<SourceBatch<Position>>;
  /** Everything up to `position` reached the bus: a restart resumes after it. */
  commit(position: Position): Promise<void>;
  close(): Promise<void>;
  /** The source's own cumulative counts (drops by reason, skipped records, ...), exported as metrics. */
  countsByName?(): Readonly<Record<string, number>>;
}

/** Every number in a nested stats object, with its path joined by `_` as the name. */
export function flattenCounts(stats: object, prefix = ''): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [key, value] of Object.entries(stats)) {
    const name = prefix ? `${prefix}_${key}` : key;
    if (typeof value === 'number') flat[name] = value;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) Object.assign(flat, flattenCounts(value, name));
  }
  return flat;
}
