import { positionFields } from '../runtime/stage-runner.js';
import type { RecordTypes } from '../schemas/types.js';
import type { ParseProblem, SourceLocation } from './source.js';

/** An error a parser throws for one line or record; the reader turns it into a ParseProblem. */
export class IngestError extends Error {
  override readonly name = 'IngestError';
  readonly retriable = false;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function problemOf(location: SourceLocation, original: Buffer | string, error: unknown): ParseProblem {
  const where = `${location.source}${location.line !== undefined ? `:${location.line}` : ''}${location.offset !== undefined ? `@${location.offset}` : ''}`;
  const message = error instanceof Error ? error.message : String(error);
  return {
    location,
    reason: error instanceof IngestError ? error.code : 'INGEST_BAD_LINE',
    message: `${where}: ${message}`,
    original: typeof original === 'string' ? Buffer.from(original, 'utf8') : original,
  };
}

/** The DeadLetter record of a parse problem (by default, a flow line the ingest stage could not read). */
export function deadLetterOfProblem(problem: ParseProblem, failedAt: number, stage = 'ingest', recordType = 'RawFlow'): RecordTypes['DeadLetter'] {
  const { location } = problem;
  return {
    reason: problem.reason,
    message: problem.message,
    retriable: false,
    stage,
    record_type: recordType,
    source: {
      topic: null,
      partition: null,
      ...positionFields(location.offset),
      file: location.source,
      line: location.line ?? null,
    },
    original: problem.original,
    failed_at: failedAt,
  };
}
