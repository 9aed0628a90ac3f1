/**
 * A FlowSource over a file of lines (Calico text or JSON flow logs, VPC flow-log files, ...) with a
 * pluggable line parser. It reads in chunks with bounded memory, yields batches of lines, and
 * commits its position to a checkpoint file so a restarted process resumes exactly there.
 *
 * Position: the file's identity (`dev:ino`), a hash of its first bytes (up to 1 KiB, which tells
 * a reused inode or a rewritten file from the one read), the byte offset after the last line
 * consumed and the number of lines consumed. A batch's position covers every line of the batch.
 *
 * Start: with a checkpoint whose file is still at `path` (same identity, same first bytes, not
 * shorter than the offset), reading resumes at its offset. When `path` now holds another file (it
 * was rotated while nobody read), the checkpointed file is looked for by identity in the same
 * directory (`app.log.1`) and read to its end first, then `path` from its start. Without a
 * checkpoint, reading starts at the start of `path`, or at its end with `startAt: 'end'`.
 *
 * Follow mode (`tail -F`): at the end of the file the source polls every `pollIntervalMs`. When
 * `path` names another file (rename + create rotation), it reads what the old file still holds
 * through its open descriptor, then switches to the new one from its start. When the file got
 * shorter than the offset or its first bytes changed (copytruncate), it starts over at 0; lines a
 * writer added between the last read and the truncation are lost, as with any copytruncate.
 * A last line without a newline waits for its newline while the file may grow; in file mode, or
 * when leaving a rotated file, it counts as a line.
 *
 * Bad input never stops the stream: a line longer than `maxLineBytes` (kept: its first
 * `maxLineBytes` bytes) or one the parser throws on becomes a ParseProblem naming the source, the
 * line number and the byte offset. A trailing `\r` is dropped before parsing.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { RawFlow } from '../schemas/types.js';
import { readCheckpoint, writeCheckpoint } from './file-checkpoint.js';
import { IngestError, problemOf } from './problems.js';
import type { FlowSource, ParseProblem, SourceBatch } from './source.js';

/** One line (without its line break) as a flow; null skips it (a blank line); a throw makes it a problem. */
export type LineParser = (line: string) => RawFlow | null;

export interface LineFilePosition {
  /** Identity of the file: `dev:ino`. */
  readonly file: string;
  /** Hash of the file's first min(offset, 1 KiB) bytes. */
  readonly head: string;
  /** Bytes consumed: the next line starts here. */
  readonly offset: number;
  /** Lines consumed: the next line is number line + 1. */
  readonly line: number;
}

export interface LineFileSourceOptions {
  readonly path: string;
  readonly parse: LineParser;
  /** Names the source in problems (default: the path). */
  readonly name?: string;
  /** Where `commit` keeps the position; without one, nothing survives a restart. */
  readonly checkpointPath?: string;
  /** Keep reading as the file grows, across rotation and truncation, until close (default false). */
  readonly follow?: boolean;
  /** Where to begin without a checkpoint (default 'start'). */
  readonly startAt?: 'start' | 'end';
  readonly batchLines?: number;
  readonly maxLineBytes?: number;
  readonly pollIntervalMs?: number;
  /** Flush each checkpoint to disk (default true). */
  readonly fsync?: boolean;
}

export const lineFileProblemCodes = {
  lineTooLong: 'INGEST_LINE_TOO_LONG',
  fileNotFound: 'INGEST_FILE_NOT_FOUND',
  badCheckpoint: 'INGEST_BAD_CHECKPOINT',
} as const;

const HEAD_BYTES = 1024;
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 10;

const isCode = (error: unknown, code: string) => (error as NodeJS.ErrnoException | undefined)?.code === code;
const hashOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 32);

async function identityOf(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path, { bigint: true });
    return info.isFile() ? `${info.dev}:${info.ino}` : undefined;
  } catch (error) {
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

async function readHead(handle: FileHandle, offset: number): Promise<Buffer> {
  const head = Buffer.alloc(Math.min(offset, HEAD_BYTES));
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  return head.subarray(0, bytesRead);
}

function checkpointOf(value: unknown, path: string): LineFilePosition | undefined {
  if (value === undefined) return undefined;
  const saved = value as Partial<Record<keyof LineFilePosition, unknown>> | null;
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (typeof saved?.file !== 'string' || typeof saved.head !== 'string' || !count(saved.offset) || !count(saved.line)) {
    throw new IngestError(lineFileProblemCodes.badCheckpoint, `${path}: not a line-file checkpoint`);
  }
  return { file: saved.file, head: saved.head, offset: saved.offset as number, line: saved.line as number };
}

interface Line {
  /** The line's first bytes (all of them unless it is longer than the limit); a view, valid until the next read. */
  readonly bytes: Buffer;
  /** Full length in bytes, without the line break. */
  readonly length: number;
  readonly start: number;
  readonly number: number;
}

/** An open file read line by line: where the next read starts, and the line being assembled. */
class OpenFile {
  readAt: number;
  consumed: number;
  lines: number;
  /** Rotated away from the path: read what it still holds, then move on. */
  rotated = false;
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private chunk = Buffer.alloc(0);
  private chunkPos = 0;
  private partial: Buffer[] = [];
  private partialKept = 0;
  private partialLength = 0;
  private headHash: { length: number; hash: string } | undefined;

  constructor(
    readonly handle: FileHandle,
    readonly identity: string,
    private readonly maxLineBytes: number,
    start: { offset: number; line: number },
    private head: Buffer,
  ) {
    this.readAt = this.consumed = start.offset;
    this.lines = start.line;
  }

  /** The next complete line, or undefined at the end of what the file holds now. */
  async nextLine(): Promise<Line | undefined> {
    for (;;) {
      if (this.chunkPos < this.chunk.length) {
        const newline = this.chunk.indexOf(NEWLINE, this.chunkPos);
        const piece = this.chunk.subarray(this.chunkPos, newline < 0 ? this.chunk.length : newline);
        this.chunkPos = newline < 0 ? this.chunk.length : newline + 1;
        if (newline >= 0) return this.complete(piece, 1);
        this.keep(piece);
      }
      const { bytesRead } = await this.handle.read(this.buffer, 0, CHUNK_BYTES, this.readAt);
      if (bytesRead === 0) return undefined;
      if (this.readAt < HEAD_BYTES && this.head.length === this.readAt) {
        const more = this.buffer.subarray(0, Math.min(bytesRead, HEAD_BYTES - this.readAt));
        this.head = Buffer.concat([this.head, more]);
      }
      this.readAt += bytesRead;
      this.chunk = this.buffer.subarray(0, bytesRead);
      this.chunkPos = 0;
    }
  }

  /** What follows the last line break, as a last line. */
  rest(): Line | undefined {
    return this.partialLength === 0 ? undefined : this.complete(Buffer.alloc(0), 0);
  }

  position(): LineFilePosition {
    const length = Math.min(this.consumed, HEAD_BYTES);
    if (this.headHash?.length !== length) this.headHash = { length, hash: hashOf(this.head.subarray(0, length)) };
    return { file: this.identity, head: this.headHash.hash, offset: this.consumed, line: this.lines };
  }

  /** The file was truncated or rewritten from 0 (copytruncate). */
  async replaced(): Promise<boolean> {
    const { size } = await this.handle.stat();
    if (size < this.readAt) return true;
    if (this.head.length === 0) return false;
    const now = Buffer.alloc(this.head.length);
    const { bytesRead } = await this.handle.read(now, 0, now.length, 0);
    return bytesRead !== now.length || !now.equals(this.head);
  }

  restart(): void {
    this.readAt = this.consumed = this.lines = 0;
    this.head = Buffer.alloc(0);
    this.chunk = Buffer.alloc(0);
    this.chunkPos = 0;
    this.dropPartial();
  }

  private keep(piece: Buffer): void {
    const room = this.maxLineBytes - this.partialKept;
    if (room > 0 && piece.length > 0) {
      const kept = piece.subarray(0, room);
      this.partial.push(Buffer.from(kept));
      this.partialKept += kept.length;
    }
    this.partialLength += piece.length;
  }

  private complete(piece: Buffer, breakBytes: number): Line {
    const length = this.partialLength + piece.length;
    let bytes: Buffer;
    if (this.partialLength === 0) {
      bytes = piece.subarray(0, this.maxLineBytes);
    } else {
      this.keep(piece);
      bytes = Buffer.concat(this.partial);
    }
    const line = { bytes, length, start: this.consumed, number: this.lines + 1 };
    this.consumed += length + breakBytes;
    this.lines += 1;
    this.dropPartial();
    return line;
  }

  private dropPartial(): void {
    this.partial = [];
    this.partialKept = this.partialLength = 0;
  }
}

type Change = 'none' | 'rotated' | 'truncated' | 'end';

export class LineFileSource implements FlowSource<LineFilePosition> {
  readonly name: string;
  private readonly path: string;
  private readonly batchLines: number;
  private readonly maxLineBytes: number;
  private readonly pollIntervalMs: number;
  private file: OpenFile | undefined;
  private closed = false;
  private ended = false;
  private iterating = false;
  private suspended = false;
  private finished: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private commits: Promise<void> = Promise.resolve();

  constructor(private readonly options: LineFileSourceOptions) {
    this.path = resolve(options.path);
    this.name = options.name ?? options.path;
    this.batchLines = Math.max(1, options.batchLines ?? 500);
    this.maxLineBytes = Math.max(1, options.maxLineBytes ?? 64 * 1024);
    this.pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 250);
  }

  batches(): AsyncIterable<SourceBatch<LineFilePosition>> {
    return this.run();
  }

  commit(position: LineFilePosition): Promise<void> {
    const { checkpointPath } = this.options;
    if (checkpointPath === undefined) return Promise.resolve();
    const document = { path: this.path, ...position };
    const write = this.commits.then(() => writeCheckpoint(checkpointPath, document, { fsync: this.options.fsync ?? true }));
    this.commits = write.catch(() => undefined);
    return write;
  }

  /** Ends the iteration (at once if it is waiting for input, else at its next step) and waits for pending commits. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    if (this.iterating && !this.suspended) await this.finished;
    else await this.release();
    await this.commits;
  }

  private async *run(): AsyncGenerator<SourceBatch<LineFilePosition>> {
    if (this.iterating) throw new Error(`${this.name}: batches() is already being iterated`);
    this.iterating = true;
    let done = () => {};
    this.finished = new Promise((resolveFinished) => (done = resolveFinished));
    try {
      this.ended = false;
      this.file = await this.openInitial();
      while (!this.closed && !this.ended) {
        const batch = await this.nextBatch();
        if (batch === undefined || this.closed) continue;
        this.suspended = true;
        yield batch;
        this.suspended = false;
      }
    } finally {
      this.suspended = false;
      this.iterating = false;
      await this.release();
      done();
    }
  }

  private async nextBatch(): Promise<SourceBatch<LineFilePosition> | undefined> {
    const flows: RawFlow[] = [];
    const problems: ParseProblem[] = [];
    let lines = 0;
    let last: OpenFile | undefined;
    const take = (file: OpenFile, line: Line) => {
      this.parseLine(line, flows, problems);
      lines += 1;
      last = file;
    };
    reading: while (lines < this.batchLines && !this.closed) {
      if (this.file === undefined) {
        this.file = await this.openPath('start');
        if (this.file !== undefined) continue;
        if (!this.options.follow) throw new IngestError(lineFileProblemCodes.fileNotFound, `${this.name}: ${this.path} does not exist`);
        await this.sleep();
        continue;
      }
      const file = this.file;
      const line = await file.nextLine();
      if (line !== undefined) {
        take(file, line);
        continue;
      }
      const change: Change = file.rotated ? 'end' : await this.changeOf(file);
      switch (change) {
        case 'rotated':
          file.rotated = true;
          continue;
        case 'truncated':
          file.restart();
          if (lines > 0) break reading;
          continue;
        case 'none': {
          if (lines > 0) break reading;
          await this.sleep();
          // Look again before reading on: a file rewritten while we slept must not be read from the old offset.
          const after: Change = this.closed ? 'none' : await this.changeOf(file);
          if (after === 'truncated') file.restart();
          if (after === 'rotated') file.rotated = true;
          continue;
        }
        case 'end': {
          const rest = file.rest();
          if (rest !== undefined) take(file, rest);
          if (!file.rotated) {
            this.ended = true;
            break reading;
          }
          await this.release();
          this.file = await this.openPath('start');
          if (this.file === undefined && !this.options.follow) this.ended = true;
          if (lines > 0 || this.ended) break reading;
        }
      }
    }
    // After a truncation the position is the file's new start: the lines before it are in this batch.
    return last === undefined ? undefined : { flows, problems, position: last.position() };
  }

  /** At the end of the file: did the path move on to another file, or the file start over? */
  private async changeOf(file: OpenFile): Promise<Change> {
    const current = await identityOf(this.path);
    if (current !== undefined && current !== file.identity) return 'rotated';
    if (!this.options.follow) return 'end';
    if (current !== undefined && (await file.replaced())) return 'truncated';
    return 'none';
  }

  private parseLine(line: Line, flows: RawFlow[], problems: ParseProblem[]): void {
    const location = { source: this.name, line: line.number, offset: String(line.start) };
    if (line.length > this.maxLineBytes) {
      const error = new IngestError(lineFileProblemCodes.lineTooLong, `line of ${line.length} bytes is longer than the limit of ${this.maxLineBytes}`);
      problems.push(problemOf(location, Buffer.from(line.bytes), error));
      return;
    }
    const end = line.bytes.length > 0 && line.bytes[line.bytes.length - 1] === 13 ? line.bytes.length - 1 : line.bytes.length;
    try {
      const flow = this.options.parse(line.bytes.toString('utf8', 0, end));
      if (flow !== null) flows.push(flow);
    } catch (error) {
      problems.push(problemOf(location, Buffer.from(line.bytes), error));
    }
  }

  private async openInitial(): Promise<OpenFile | undefined> {
    const { checkpointPath } = this.options;
    const saved = checkpointPath === undefined ? undefined : checkpointOf(await readCheckpoint(checkpointPath), checkpointPath);
    if (saved === undefined) return this.openPath(this.options.startAt ?? 'start');
    const where = (await identityOf(this.path)) === saved.file ? this.path : await this.findFile(saved.file);
    const resumed = where === undefined ? undefined : await this.openAt(where, saved);
    // No file holds the checkpointed position any more: `path` is a file nobody read yet.
    return resumed ?? this.openPath('start');
  }

  /** The file with this identity in the directory of `path` (where rotation renamed it). */
  private async findFile(identity: string): Promise<string | undefined> {
    const dir = dirname(this.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    }
    for (const name of names) {
      const candidate = join(dir, name);
      if (candidate !== this.path && (await identityOf(candidate)) === identity) return candidate;
    }
    return undefined;
  }

  private async openHandle(path: string): Promise<{ handle: FileHandle; identity: string; size: number } | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    }
    const info = await handle.stat({ bigint: true });
    return { handle, identity: `${info.dev}:${info.ino}`, size: Number(info.size) };
  }

  private async openAt(path: string, saved: LineFilePosition): Promise<OpenFile | undefined> {
    const opened = await this.openHandle(path);
    if (opened === undefined) return undefined;
    const head = await readHead(opened.handle, saved.offset);
    const same = opened.identity === saved.file && opened.size >= saved.offset && head.length === Math.min(saved.offset, HEAD_BYTES);
    if (same && hashOf(head) === saved.head) return new OpenFile(opened.handle, opened.identity, this.maxLineBytes, saved, head);
    await opened.handle.close();
    return undefined;
  }

  private async openPath(where: 'start' | 'end'): Promise<OpenFile | undefined> {
    const opened = await this.openHandle(this.path);
    if (opened === undefined) return undefined;
    const start = where === 'end' ? await this.lastLineEnd(opened.handle, opened.size) : { offset: 0, line: 0 };
    const head = await readHead(opened.handle, start.offset);
    return new OpenFile(opened.handle, opened.identity, this.maxLineBytes, start, head);
  }

  /** The offset after the last line break below `size`, and the number of lines before it. */
  private async lastLineEnd(handle: FileHandle, size: number): Promise<{ offset: number; line: number }> {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let offset = 0;
    let line = 0;
    for (let at = 0; at < size; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK_BYTES, size - at), at);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) {
        line += 1;
        offset = at + i + 1;
      }
      at += bytesRead;
    }
    return { offset, line };
  }

  private sleep(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolveSleep) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolveSleep();
      };
      const timer = setTimeout(done, this.pollIntervalMs);
      this.wake = done;
    });
  }

  private async release(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.handle.close();
  }
}
