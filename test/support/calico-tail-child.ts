/**
 * A tail-follow reader of a Calico text flow log, run as a child process by
 * test/unit/ingest/calico-tail.test.ts and killed with SIGKILL while it works.
 *
 *   node --import tsx test/support/calico-tail-child.ts <log> <checkpoint> <output> [crash-after-batch]
 *
 * For every batch it appends one line per flow to <output> — the flow's id, which the test puts in
 * bytes_in and which equals the flow's line number — flushes the output to disk, and only then
 * commits the batch's position. Delivery is therefore at least once: a kill after the output was
 * written and before the commit makes the restarted reader see that batch again. The output is
 * idempotent by id: on start the reader drops a partly written last line and remembers the last
 * id written, and skips flows whose id is not above it. With `crash-after-batch` N the process
 * kills itself with SIGKILL right after writing the output of its Nth batch, before committing it:
 * the worst moment, on purpose. SIGTERM closes the source and exits 0.
 */
import { closeSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { calicoTextParser } from '../../ingest/calico-text.js';
import { LineFileSource } from '../../ingest/line-file-source.js';

const [logPath, checkpointPath, outputPath, crashAfter] = process.argv.slice(2);
if (logPath === undefined || checkpointPath === undefined || outputPath === undefined) {
  console.error('usage: calico-tail-child.ts <log> <checkpoint> <output> [crash-after-batch]');
  process.exit(2);
}

/** The last id in the output, after dropping a last line the previous run did not finish. */
function lastWrittenId(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return 0;
  }
  const complete = text.lastIndexOf('\n') + 1;
  if (complete < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, complete)));
  const ids = text.slice(0, complete).trimEnd().split('\n');
  return ids[0] === '' ? 0 : Number(ids.at(-1));
}

let lastId = lastWrittenId(outputPath);
const output = openSync(outputPath, 'a');
const source = new LineFileSource({
  path: logPath,
  checkpointPath,
  parse: calicoTextParser({ host: 'node-a' }),
  follow: true,
  batchLines: 7,
  pollIntervalMs: 10,
});
process.on('SIGTERM', () => void source.close());

let batches = 0;
for await (const batch of source.batches()) {
  const fresh = batch.flows.map((flow) => flow.bytes_in).filter((id) => id > lastId);
  if (batch.problems.length > 0) console.error(batch.problems.map((problem) => problem.message).join('\n'));
  if (fresh.length > 0) {
    writeSync(output, fresh.map((id) => `${id}\n`).join(''));
    fsyncSync(output);
    lastId = fresh.at(-1)!;
  }
  batches += 1;
  if (crashAfter !== undefined && batches === Number(crashAfter)) process.kill(process.pid, 'SIGKILL');
  await source.commit(batch.position);
}
closeSync(output);
