import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capture, ConntrackSourceError, DEFAULT_COMMANDS, forEachLine, inNetns, LineSplitter } from '../../../ingest/conntrack-exec.js';
import { IntervalTicker, ManualTicker } from '../../../ingest/conntrack-ticks.js';

describe('Ingest > conntrack > exec', () => {
  it('splits a dump into numbered lines, skipping empty ones', () => {
    const lines: [string, number][] = [];
    forEachLine(Buffer.from('a b\n\nc\nd'), (line, n) => lines.push([line, n]));
    assert.deepEqual(lines, [
      ['a b', 1],
      ['c', 3],
      ['d', 4],
    ]);
  });

  it('joins lines split across chunks of a stream', () => {
    const splitter = new LineSplitter();
    const lines: string[] = [];
    for (const chunk of ['[DESTROY] ip', 'v4 tcp\nsecond', ' line\n', '\nthird\n']) splitter.push(Buffer.from(chunk), (l) => lines.push(l));
    assert.deepEqual(lines, ['[DESTROY] ipv4 tcp', 'second line', 'third']);
  });

  it('runs a command in a namespace through ip netns exec', () => {
    assert.deepEqual(inNetns(DEFAULT_COMMANDS, 'node-ns', ['conntrack', '-L']), ['ip', 'netns', 'exec', 'node-ns', 'conntrack', '-L']);
    assert.deepEqual(inNetns(DEFAULT_COMMANDS, undefined, ['conntrack', '-L']), ['conntrack', '-L']);
  });

  it('captures stdout, and fails with the stderr of a failing command', async () => {
    assert.equal((await capture([process.execPath, '-e', 'process.stdout.write("x".repeat(100000))'])).length, 100_000);
    await assert.rejects(capture([process.execPath, '-e', 'console.error("no table"); process.exit(3)']), (error: unknown) => {
      return error instanceof ConntrackSourceError && error.code === 'CONNTRACK_COMMAND_FAILED' && /no table/.test(error.message);
    });
    await assert.rejects(capture(['/nonexistent/conntrack']), ConntrackSourceError);
    await assert.rejects(capture([process.execPath, '-e', 'process.stdout.write("x".repeat(5000))'], 100), /more than 100 bytes/);
  });
});

describe('Ingest > conntrack > ticks', () => {
  it('hands out pushed interval ends in order, and ends when stopped', async () => {
    const ticker = new ManualTicker();
    ticker.tick(10);
    const it = ticker[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { value: 10, done: false });
    const pending = it.next();
    ticker.tick(20);
    assert.deepEqual(await pending, { value: 20, done: false });
    const last = it.next();
    ticker.stop();
    assert.deepEqual(await last, { value: undefined, done: true });
  });

  it('ticks at multiples of the interval on a timer', async () => {
    const ticker = new IntervalTicker(20);
    const it = ticker[Symbol.asyncIterator]();
    const first = await it.next();
    ticker.stop();
    assert.equal(first.done, false);
    assert.equal((first.value as number) % 20, 0);
    assert.equal((await it.next()).done, true);
  });
});
