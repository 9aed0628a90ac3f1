/**
 * VPC Flow Logs from files, plain or gzip (as S3 delivers them), read as streams: a batch at a
 * time, never a whole file in memory.
 *
 * The first line of a file is its header when it names fields (`version account-id ...`, as S3
 * writes it); a file without one is read in the configured format (the default v2 format unless
 * given). A later line made only of known field names is a header too (concatenated files).
 * A bad line becomes a problem naming `file:line` and the stream goes on; NODATA/SKIPDATA records
 * and blank lines are counted in `counts`. A corrupt or truncated gzip file ends with one problem
 * after its last good line; the next file is read. Unreadable files (missing, no permission)
 * stop the source with their error: that is a configuration problem, not bad data.
 *
 * Position: the file and its last line in a batch. `commit` keeps it (in `checkpointPath` too,
 * when given, replaced atomically) and `batches()` resumes after it, in this process or the next
 * (a gzip file is read again from its start, and its lines up to the position skipped). The files
 * are the same list in the same order from run to run: a position names a file among them.
 */
import type { RawFlow } from '../schemas/types.js';
import { readCheckpoint, writeCheckpoint } from './file-checkpoint.js';
import { IngestError, problemOf } from './problems.js';
import type { FlowSource, ParseProblem, SourceBatch } from './source.js';
import {
  defaultVpcFormat,
  emptyVpcCounts,
  looksLikeVpcHeader,
  parseVpcLine,
  vpcFormatFromHeader,
  type VpcCounts,
  type VpcFlowLogFormat,
} from './vpc-flow-log.js';
import { fileChunks, isCorruptGzip, splitLines, type InputLine } from './vpc-line-reader.js';

export interface VpcFilePosition {
  readonly file: string;
  /** The last line read (0: none). */
  readonly line: number;
  /** The file was read to its end. */
  readonly done: boolean;
}

export interface VpcFileSourceOptions {
  /** Files in the order to read them. */
  readonly paths: readonly string[];
  /** Format of files without a header line; the default v2 format unless given. */
  readonly format?: VpcFlowLogFormat;
  /** Lines per batch (flows, problems and skipped lines alike). */
  readonly batchLines?: number;
  /** Longer lines are cut here and reported as problems. */
  readonly maxLineBytes?: number;
  /** Where an earlier run committed: reading resumes after it (rather than after the checkpoint). */
  readonly resumeAfter?: VpcFilePosition;
  /** Where `commit` keeps the position, read at the start; without one, nothing survives a restart. */
  readonly checkpointPath?: string;
  /** Flush each checkpoint to disk (default true). */
  readonly fsync?: boolean;
  readonly name?: string;
}

function positionOf(value: unknown, where: string): VpcFilePosition {
  const { file, line, done } = (value ?? {}) as Partial<Record<keyof VpcFilePosition, unknown>>;
  if (typeof file !== 'string' || typeof line !== 'number' || !Number.isSafeInteger(line) || line < 0 || typeof done !== 'boolean') {
    throw new IngestError('INGEST_BAD_CHECKPOINT', `${where}: not a VPC file position`);
  }
  return { file, line, done };
}

export const defaultVpcFileOptions = { batchLines: 1_000, maxLineBytes: 16 * 1024 } as const;

/** What reading a file leaves to the next line: the format in force. */
interface FileState {
  readonly path: string;
  format: VpcFlowLogFormat;
  /** Lines up to here were delivered before (resume). */
  readonly skipTo: number;
}

export class VpcFileSource implements FlowSource<VpcFilePosition> {
  readonly name: string;
  /** Lines, flows, problems, NODATA/SKIPDATA records, headers and blank lines seen so far. */
  readonly counts: VpcCounts = emptyVpcCounts();

  private committed: VpcFilePosition | undefined;
  private loaded = false;
  private writes: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly batchLines: number;
  private readonly maxLineBytes: number;

  constructor(private readonly options: VpcFileSourceOptions) {
    this.name = options.name ?? 'vpc-file';
    this.batchLines = Math.max(1, options.batchLines ?? defaultVpcFileOptions.batchLines);
    this.maxLineBytes = Math.max(64, options.maxLineBytes ?? defaultVpcFileOptions.maxLineBytes);
    if (options.resumeAfter) this.committed = this.known(options.resumeAfter, 'resume after');
    this.loaded = options.resumeAfter !== undefined || options.checkpointPath === undefined;
  }

  private known(position: VpcFilePosition, what: string): VpcFilePosition {
    if (!this.options.paths.includes(position.file)) {
      throw new IngestError('INGEST_BAD_POSITION', `cannot ${what} ${position.file}: it is not among the files to read`);
    }
    return position;
  }

  /** The last committed position. */
  get position(): VpcFilePosition | undefined {
    return this.committed;
  }

  async *batches(): AsyncGenerator<SourceBatch<VpcFilePosition>> {
    if (!this.loaded) {
      const path = this.options.checkpointPath!;
      const saved = await readCheckpoint(path);
      if (saved !== undefined) this.committed = this.known(positionOf(saved, path), `resume (checkpoint ${path}) after`);
      this.loaded = true;
    }
    const from = this.committed;
    const { paths } = this.options;
    let index = from ? paths.indexOf(from.file) + (from.done ? 1 : 0) : 0;
    for (; index < paths.length && !this.closed; index++) {
      const path = paths[index]!;
      yield* this.readFile(path, from && from.file === path ? from.line : 0);
    }
  }

  private async *readFile(path: string, skipTo: number): AsyncGenerator<SourceBatch<VpcFilePosition>> {
    const state: FileState = { path, format: this.options.format ?? defaultVpcFormat, skipTo };
    let flows: RawFlow[] = [];
    let problems: ParseProblem[] = [];
    let pending = 0;
    let last = 0;
    try {
      for await (const line of splitLines(fileChunks(path), this.maxLineBytes)) {
        if (this.closed) return;
        last = line.number;
        this.readLine(state, line, flows, problems);
        if (++pending >= this.batchLines) {
          yield { flows, problems, position: { file: path, line: last, done: false } };
          flows = [];
          problems = [];
          pending = 0;
        }
      }
    } catch (error) {
      if (!isCorruptGzip(error)) throw error;
      const message = `gzip data is corrupt or truncated after line ${last}: ${(error as Error).message}`;
      this.counts.problems++;
      problems.push(problemOf({ source: path, line: last + 1 }, Buffer.alloc(0), new IngestError('INGEST_BAD_FILE', message)));
    }
    if (!this.closed) yield { flows, problems, position: { file: path, line: last, done: true } };
  }

  private readLine(state: FileState, line: InputLine, flows: RawFlow[], problems: ParseProblem[]): void {
    const replay = line.number <= state.skipTo;
    const location = { source: state.path, line: line.number };
    if (line.cut) {
      if (replay) return;
      this.counts.lines++;
      this.counts.problems++;
      const error = new IngestError('INGEST_LINE_TOO_LONG', `line longer than ${this.maxLineBytes} bytes`);
      problems.push(problemOf(location, Buffer.from(line.bytes), error));
      return;
    }
    const text = line.bytes.toString('utf8');
    if (looksLikeVpcHeader(text, line.number > 1)) {
      // A header is read again on resume: the lines after it need its format.
      try {
        state.format = vpcFormatFromHeader(text);
        if (!replay) this.counts.headers++;
      } catch (error) {
        if (replay) return;
        this.counts.problems++;
        problems.push(problemOf(location, Buffer.from(line.bytes), error));
      }
      return;
    }
    if (replay) return;
    this.counts.lines++;
    if (text.trim().length === 0) {
      this.counts.blank++;
      return;
    }
    try {
      const result = parseVpcLine(state.format, text);
      if (result.kind === 'flow') {
        this.counts.flows++;
        flows.push(result.flow);
      } else if (result.status === 'NODATA') this.counts.noData++;
      else this.counts.skipData++;
    } catch (error) {
      this.counts.problems++;
      problems.push(problemOf(location, Buffer.from(line.bytes), error));
    }
  }

  async commit(position: VpcFilePosition): Promise<void> {
    this.committed = this.known(position, 'commit');
    const { checkpointPath, fsync } = this.options;
    if (checkpointPath === undefined) return;
    // One write at a time, in commit order.
    const write = this.writes.then(() => writeCheckpoint(checkpointPath, position, { fsync: fsync ?? true }));
    this.writes = write.catch(() => undefined);
    await write;
  }

  countsByName(): Record<string, number> {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
