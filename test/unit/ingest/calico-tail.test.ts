import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatCalicoText, parseCalicoText } from '../../../ingest/calico-text.js';
import { waitFor } from '../../support/wait.js';

const repoDir = fileURLToPath(new URL('../../../', import.meta.url));
const childScript = join(repoDir, 'test', 'support', 'calico-tail-child.ts');
const sample = readFileSync(join(repoDir, '..', 'shared', 'data', 'calico-cloudwatch-flowlogs.txt'), 'utf8')
  .split('\n')
  .filter((line) => line !== '');

/** Lines `from`..`to` of the log: sample lines whose bytes_in is the line number. */
function logLines(from: number, to: number): string {
  let text = '';
  for (let id = from; id <= to; id++) {
    const flow = parseCalicoText(sample[id % sample.length]!, { host: 'node-a' });
    text += `${formatCalicoText({ ...flow, bytes_in: id })}\n`;
  }
  return text;
}

const dir = mkdtempSync(join(tmpdir(), 'flowsentry-calico-tail-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const log = join(dir, 'flows.log');
const checkpoint = join(dir, 'flows.checkpoint.json');
const output = join(dir, 'output.txt');

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

function startChild(crashAfterBatch?: number): Child {
  const args = ['--import', 'tsx', childScript, log, checkpoint, output, ...(crashAfterBatch === undefined ? [] : [String(crashAfterBatch)])];
  const child = spawn(process.execPath, args, { cwd: repoDir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('exit', (code, signal) => resolveExit({ code, signal })),
  );
  return { process: child, exited, stderr: () => stderr };
}

const outputIds = (): number[] => {
  try {
    return readFileSync(output, 'utf8').split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return [];
  }
};
const written = (count: number) =>
  waitFor(() => outputIds().length >= count, { timeoutMs: 30_000, intervalMs: 10, description: `${count} ids in the output (have ${outputIds().length})` });

describe('Ingest > Calico tail > kill -9', () => {
  it('resumes without loss or duplicates after SIGKILL, also across a rotation made while it was down', async () => {
    writeFileSync(log, logLines(1, 60));

    // Round 1 kills itself after writing the output of its 3rd batch, before committing it.
    const first = startChild(3);
    assert.deepEqual(await first.exited, { code: null, signal: 'SIGKILL' }, first.stderr());
    assert.equal(outputIds().length, 21);
    assert.equal((JSON.parse(readFileSync(checkpoint, 'utf8')) as { line: number }).line, 14, 'output ahead of the checkpoint');

    // Round 2 is killed from outside while lines keep coming.
    const second = startChild();
    let appended = 60;
    for (let step = 0; step < 4; step++) {
      await written(appended - 10);
      appendFileSync(log, logLines(appended + 1, appended + 25));
      appended += 25;
    }
    second.process.kill('SIGKILL');
    assert.equal((await second.exited).signal, 'SIGKILL', second.stderr());

    // While nobody reads: the old file is rotated, gets a last line, and a new file starts.
    appendFileSync(log, logLines(appended + 1, appended + 5));
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, logLines(appended + 6, appended + 6));
    writeFileSync(log, logLines(appended + 7, appended + 20));
    appended += 20;

    // Round 3 catches up and stops cleanly.
    const third = startChild();
    await written(appended);
    third.process.kill('SIGTERM');
    assert.deepEqual(await third.exited, { code: 0, signal: null }, third.stderr());

    assert.deepEqual(outputIds(), Array.from({ length: appended }, (_, i) => i + 1));
    assert.equal(first.stderr() + second.stderr() + third.stderr(), '');
  });
});
