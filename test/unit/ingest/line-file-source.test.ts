import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type LineFilePosition, LineFileSource, type LineFileSourceOptions, type LineParser } from '../../../ingest/line-file-source.js';
import { IngestError } from '../../../ingest/problems.js';
import type { ParseProblem } from '../../../ingest/source.js';
import type { RawFlow } from '../../../schemas/types.js';
import { waitFor } from '../../support/wait.js';

const root = mkdtempSync(join(tmpdir(), 'flowsentry-line-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
const freshDir = () => mkdtempSync(join(root, 'case-'));

/** Lines of digits are flows carrying the number in bytes_in; anything else is a bad line. */
const numbers: LineParser = (line) => {
  if (line === '') return null;
  if (!/^\d+$/.test(line)) throw new IngestError('INGEST_BAD_FIELD', `not a number: ${line.slice(0, 20)}`);
  const flow: RawFlow = {
    start_time: 0,
    end_time: 0,
    origin: 'calico',
    host: 'node-a',
    proto: 6,
    reporter: 'src',
    action: 'allow',
    bytes_in: Number(line),
    bytes_out: 0,
    packets_in: 0,
    packets_out: 0,
    num_flows: 1,
    num_flows_started: 1,
    num_flows_completed: 1,
  };
  return flow;
};

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const identity = (path: string) => {
  const info = statSync(path, { bigint: true });
  return `${info.dev}:${info.ino}`;
};

/** Reads a source in the background, committing after each batch unless told otherwise. */
class Reader {
  readonly values: number[] = [];
  readonly problems: ParseProblem[] = [];
  readonly positions: LineFilePosition[] = [];
  readonly done: Promise<void>;

  constructor(
    readonly source: LineFileSource,
    commit = true,
  ) {
    this.done = (async () => {
      for await (const batch of source.batches()) {
        this.values.push(...batch.flows.map((flow) => flow.bytes_in));
        this.problems.push(...batch.problems);
        this.positions.push(batch.position);
        if (commit) await source.commit(batch.position);
      }
    })();
  }

  until(count: number): Promise<true> {
    return waitFor(() => this.values.length >= count, { timeoutMs: 10_000, intervalMs: 5, description: `${count} flows (have ${this.values.length})` });
  }
}

function sourceOf(dir: string, options: Partial<LineFileSourceOptions> = {}): LineFileSource {
  return new LineFileSource({
    path: join(dir, 'flows.log'),
    checkpointPath: join(dir, 'state', 'flows.checkpoint.json'),
    parse: numbers,
    pollIntervalMs: 5,
    fsync: false,
    ...options,
  });
}

describe('Ingest > line file source', () => {
  describe('file mode', () => {
    it('reads every line in batches of N, the last one without its newline too, then ends', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'flows.log'), `${lines(1, 24)}25`);
      const reader = new Reader(sourceOf(dir, { batchLines: 10 }));
      await reader.done;
      assert.deepEqual(reader.values, range(1, 25));
      assert.deepEqual(reader.positions.map((position) => [position.offset, position.line]), [[21, 10], [51, 20], [65, 25]]);
      assert.equal(reader.positions[0]!.file, identity(join(dir, 'flows.log')));
    });

    it('turns bad and overlong lines into problems naming source, line and offset, and reads on', async () => {
      const dir = freshDir();
      const huge = 'x'.repeat(150_000);
      writeFileSync(join(dir, 'flows.log'), `1\nbad\n${'y'.repeat(200)}\n2\n\n3\r\n${huge}\n4\n`);
      const reader = new Reader(sourceOf(dir, { name: 'node-a/flows.log', maxLineBytes: 100 }));
      await reader.done;
      assert.deepEqual(reader.values, [1, 2, 3, 4]);
      const summary = reader.problems.map((problem) => [problem.reason, problem.location.line, problem.location.offset, problem.original.length]);
      assert.deepEqual(summary, [
        ['INGEST_BAD_FIELD', 2, '2', 3],
        ['INGEST_LINE_TOO_LONG', 3, '6', 100],
        ['INGEST_LINE_TOO_LONG', 7, '213', 100],
      ]);
      assert.match(reader.problems[0]!.message, /^node-a\/flows\.log:2@2: not a number: bad$/);
      assert.match(reader.problems[1]!.message, /line of 200 bytes is longer than the limit of 100/);
    });

    it('resumes after the last commit, even without close: nothing lost, nothing twice', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'flows.log'), lines(1, 30));
      const first = sourceOf(dir, { batchLines: 10 });
      const iterator = first.batches()[Symbol.asyncIterator]();
      const one = await iterator.next();
      await first.commit(one.value!.position);
      const two = await iterator.next();
      assert.deepEqual(two.value!.flows.map((flow: RawFlow) => flow.bytes_in), range(11, 20));
      // The process dies here: batch two was read but never committed.
      appendFileSync(join(dir, 'flows.log'), lines(31, 35));
      const second = new Reader(sourceOf(dir, { batchLines: 10 }));
      await second.done;
      assert.deepEqual(second.values, range(11, 35));
      assert.equal(second.positions.at(-1)!.line, 35);
      const third = new Reader(sourceOf(dir));
      await third.done;
      assert.deepEqual(third.values, []);
      await first.close();
    });

    it('reads a rotated file to its end, then the new one, after a restart across the rotation', async () => {
      const dir = freshDir();
      const path = join(dir, 'flows.log');
      writeFileSync(path, lines(1, 5));
      const crashed = sourceOf(dir, { batchLines: 3 });
      const first = (await crashed.batches()[Symbol.asyncIterator]().next()).value!;
      await crashed.commit(first.position);
      renameSync(path, `${path}.1`);
      appendFileSync(`${path}.1`, '6');
      writeFileSync(path, lines(7, 8));
      const reader = new Reader(sourceOf(dir));
      await reader.done;
      assert.deepEqual(reader.values, range(4, 8));
      assert.equal(reader.positions.at(-1)!.file, identity(path));
      await crashed.close();
    });

    it('starts over when the checkpointed file was replaced, truncated or rewritten', async () => {
      const dir = freshDir();
      const path = join(dir, 'flows.log');
      const readAll = async () => {
        const reader = new Reader(sourceOf(dir));
        await reader.done;
        return reader.values;
      };
      writeFileSync(path, lines(1, 3));
      assert.deepEqual(await readAll(), [1, 2, 3]);
      rmSync(path);
      writeFileSync(path, lines(4, 5));
      assert.deepEqual(await readAll(), [4, 5]);
      truncateSync(path, 0);
      writeFileSync(path, '6\n');
      assert.deepEqual(await readAll(), [6]);
      const fd = openSync(path, 'r+');
      writeSync(fd, '7\n8\n', 0);
      closeSync(fd);
      assert.deepEqual(await readAll(), [7, 8]);
    });

    it('starts at the end of the last complete line with startAt end, counting the lines before it', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'flows.log'), `${lines(1, 5)}6`);
      const reader = new Reader(sourceOf(dir, { startAt: 'end' }));
      await reader.done;
      assert.deepEqual(reader.values, [6]);
      assert.deepEqual([reader.positions[0]!.offset, reader.positions[0]!.line], [11, 6]);
    });

    it('fails on a missing file', async () => {
      const reader = new Reader(sourceOf(freshDir()));
      await assert.rejects(reader.done, (error: unknown) => error instanceof IngestError && error.code === 'INGEST_FILE_NOT_FOUND');
    });

    it('refuses a damaged checkpoint', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'flows.log'), lines(1, 2));
      const source = sourceOf(dir);
      await source.commit({ file: 'x', head: 'y', offset: 0, line: 0 });
      writeFileSync(join(dir, 'state', 'flows.checkpoint.json'), '{"file": 1}');
      await assert.rejects(new Reader(sourceOf(dir)).done, (error: unknown) => error instanceof IngestError && error.code === 'INGEST_BAD_CHECKPOINT');
    });
  });

  describe('follow mode', () => {
    it('reads lines as they are appended; a last line waits for its newline; close ends the iteration', async () => {
      const dir = freshDir();
      const path = join(dir, 'flows.log');
      writeFileSync(path, '');
      const reader = new Reader(sourceOf(dir, { follow: true }));
      appendFileSync(path, '1\n2\n3');
      await reader.until(2);
      appendFileSync(path, '3\n4\n');
      await reader.until(4);
      assert.deepEqual(reader.values, [1, 2, 33, 4]);
      await reader.source.close();
      await reader.done;
    });

    it('waits for a file that does not exist yet, and closes while waiting', async () => {
      const dir = freshDir();
      const reader = new Reader(sourceOf(dir, { follow: true }));
      writeFileSync(join(dir, 'flows.log'), lines(1, 2));
      await reader.until(2);
      rmSync(join(dir, 'flows.log'));
      await reader.source.close();
      await reader.done;
      assert.deepEqual(reader.values, [1, 2]);
    });

    it('finishes a file renamed away by its open descriptor, then follows the new file from its start', async () => {
      const dir = freshDir();
      const path = join(dir, 'flows.log');
      writeFileSync(path, lines(1, 3));
      const reader = new Reader(sourceOf(dir, { follow: true }));
      await reader.until(3);
      renameSync(path, `${path}.1`);
      appendFileSync(`${path}.1`, '4\n5');
      await reader.until(4);
      writeFileSync(path, lines(6, 7));
      await reader.until(7);
      appendFileSync(path, lines(8, 8));
      await reader.until(8);
      assert.deepEqual(reader.values, range(1, 8));
      assert.deepEqual(reader.positions.at(-1), { ...reader.positions.at(-1)!, file: identity(path), offset: 6, line: 3 });
      await reader.source.close();
      await reader.done;
      const again = new Reader(sourceOf(dir));
      await again.done;
      assert.deepEqual(again.values, []);
    });

    it('starts over at 0 when the file is truncated under it (copytruncate)', async () => {
      const dir = freshDir();
      const path = join(dir, 'flows.log');
      writeFileSync(path, lines(1, 3));
      const reader = new Reader(sourceOf(dir, { follow: true }));
      await reader.until(3);
      truncateSync(path, 0);
      appendFileSync(path, '4\n');
      await reader.until(4);
      appendFileSync(path, '5\n');
      await reader.until(5);
      assert.deepEqual(reader.values, range(1, 5));
      assert.deepEqual([reader.positions.at(-1)!.offset, reader.positions.at(-1)!.line], [4, 2]);
      await reader.source.close();
      await reader.done;
    });

    it('keeps the checkpoint readable while commits follow one another', async () => {
      const dir = freshDir();
      writeFileSync(join(dir, 'flows.log'), lines(1, 200));
      const reader = new Reader(sourceOf(dir, { batchLines: 1 }));
      const checkpoint = join(dir, 'state', 'flows.checkpoint.json');
      await waitFor(() => reader.values.length > 0 && statSync(checkpoint, { throwIfNoEntry: false }) !== undefined, { intervalMs: 1 });
      for (let i = 0; i < 50; i++) assert.doesNotThrow(() => JSON.parse(readFileSync(checkpoint, 'utf8')));
      await reader.done;
      assert.equal((JSON.parse(readFileSync(checkpoint, 'utf8')) as LineFilePosition).line, 200);
    });
  });
});
