import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FeedConfigError } from '../../../../detect/feeds/feed-errors.js';
import { FeedSet } from '../../../../detect/feeds/feed-set.js';
import type { FeedRead, FeedSource } from '../../../../detect/feeds/feed-source.js';
import type { FeedProblem, FeedSpec } from '../../../../detect/feeds/feed.js';
import { MemoryFeedSource } from '../../../../detect/feeds/memory-feed-source.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';
import { waitFor } from '../../../support/wait.js';

/** A FeedSet over memory sources named like the specs, collecting its problems. */
function setOf(texts: Record<string, string>, refreshMs = 0) {
  const sources = new Map(Object.entries(texts).map(([name, text]) => [name, new MemoryFeedSource(name, text)]));
  const problems: FeedProblem[] = [];
  const metrics = new MetricsRegistry();
  const specs = [...sources.keys()].map((name) => ({ name, location: `feeds/${name}.txt`, refreshMs }));
  const set = new FeedSet(specs, { metrics, onProblem: (problem) => problems.push(problem), sourceOf: (spec) => sources.get(spec.name)! });
  const source = (name: string) => sources.get(name)!;
  return { set, source, problems, metrics };
}

/** A source whose reads wait until the test lets them through. */
class GatedSource implements FeedSource {
  readonly location = 'memory:gated';
  private release: ((read: FeedRead) => void) | undefined;
  read(): Promise<FeedRead> {
    return new Promise((resolve) => (this.release = resolve));
  }
  answer(text: string): void {
    this.release?.({ changed: true, text, version: { etag: text } });
  }
  get waiting(): boolean {
    return this.release !== undefined;
  }
}

describe('Detect > feeds > feed set', () => {
  it('loads every feed at start and matches against all of them', async () => {
    const { set, metrics } = setOf({ scanners: '198.51.100.7\n', c2: '203.0.113.0/24 # c2 net\n' });
    assert.equal(set.current().match('198.51.100.7'), undefined, 'empty before start');
    const first = await set.start();
    assert.deepEqual(first.map((r) => [r.feed, r.outcome, r.entries]), [['scanners', 'loaded', 1], ['c2', 'loaded', 1]]);
    assert.deepEqual(set.current().match('198.51.100.7'), { feed: 'scanners', entry: '198.51.100.7' });
    assert.deepEqual(set.current().match('203.0.113.9'), { feed: 'c2', entry: '203.0.113.0/24', note: 'c2 net' });
    assert.equal(metrics.counter('flowsentry_feed_loads_total', '').get({ feed: 'c2' }), 1);
    assert.equal(metrics.gauge('flowsentry_feed_entries', '').get({ feed: 'scanners' }), 1);
    assert.equal(metrics.gauge('flowsentry_feed_index_blocks', '').get(), 2);
    await set.close();
  });

  it('swaps a refreshed feed in whole: the index in use stays as it was until the new one is built', async () => {
    const gated = new GatedSource();
    const set = new FeedSet([{ name: 'gated', location: 'gated.txt', refreshMs: 0 }], { sourceOf: () => gated });
    const starting = set.start();
    await waitFor(() => gated.waiting, { intervalMs: 1 });
    gated.answer('192.0.2.1\n');
    await starting;
    const before = set.current();
    const refreshing = set.refresh();
    await waitFor(() => gated.waiting, { intervalMs: 1 });
    assert.equal(set.current(), before);
    gated.answer('192.0.2.2\n');
    await refreshing;
    assert.notEqual(set.current(), before);
    assert.equal(set.current().match('192.0.2.1'), undefined);
    assert.equal(set.current().match('192.0.2.2')?.entry, '192.0.2.2');
    assert.equal(before.match('192.0.2.1')?.entry, '192.0.2.1', 'an index already handed out never changes');
    await set.close();
  });

  it('keeps the last good data when a read fails, counts and reports it, and takes the next good read', async () => {
    const { set, source, problems, metrics } = setOf({ c2: '203.0.113.0/24\n' });
    await set.start();
    source('c2').fail('connection reset');
    const [failed] = await set.refresh('c2');
    assert.equal(failed?.outcome, 'failed');
    assert.equal(failed?.failure?.code, 'FEED_READ_FAILED');
    assert.equal(set.current().match('203.0.113.1')?.feed, 'c2');
    assert.deepEqual(problems.map((p) => [p.code, p.message]), [['FEED_READ_FAILED', 'c2: memory:c2: connection reset']]);
    assert.equal(metrics.counter('flowsentry_feed_refresh_failures_total', '').get({ feed: 'c2', reason: 'FEED_READ_FAILED' }), 1);
    assert.equal(set.status()[0]?.failures, 1);
    assert.equal(set.status()[0]?.lastError, 'c2: memory:c2: connection reset');
    source('c2').set('198.51.100.0/24\n');
    assert.equal((await set.refresh('c2'))[0]?.outcome, 'loaded');
    assert.equal(set.current().match('203.0.113.1'), undefined);
    assert.equal(set.current().match('198.51.100.1')?.feed, 'c2');
    assert.equal(set.status()[0]?.failures, 0);
    await set.close();
  });

  it('takes a text with problems and not one entry (an error page) as a failed read', async () => {
    const { set, source, problems, metrics } = setOf({ c2: '203.0.113.0/24\n' });
    await set.start();
    source('c2').set('<html>\n<body>Service Unavailable</body>\n</html>\n');
    const [refresh] = await set.refresh();
    assert.equal(refresh?.outcome, 'failed');
    assert.equal(refresh?.failure?.code, 'FEED_NO_ENTRIES');
    assert.match(problems[0]?.message ?? '', /^c2: 3 problem\(s\) and not one entry \(first: c2:1: "<html>" is not/);
    assert.equal(set.current().match('203.0.113.1')?.feed, 'c2');
    assert.equal(metrics.counter('flowsentry_feed_refresh_failures_total', '').get({ feed: 'c2', reason: 'FEED_NO_ENTRIES' }), 1);
  });

  it('loads an emptied feed (no entries, no problems): the publisher withdrew everything', async () => {
    const { set, source } = setOf({ c2: '203.0.113.0/24\n' });
    await set.start();
    source('c2').set('# nothing listed today\n');
    assert.equal((await set.refresh())[0]?.outcome, 'loaded');
    assert.equal(set.current().match('203.0.113.1'), undefined);
  });

  it('reports the first bad lines of a new text and counts them all by reason', async () => {
    const bad = Array.from({ length: 25 }, (_, i) => `bad-${i}`).join('\n');
    const { set, problems, metrics } = setOf({ mixed: `192.0.2.1\n10.0.0.1/8\n${bad}\n` });
    const [loaded] = await set.start();
    assert.equal(loaded?.problems, 26);
    assert.equal(problems.length, 10);
    assert.equal(problems[0]?.message, 'mixed:2: "10.0.0.1/8" has bits set after its prefix; read as 10.0.0.0/8');
    assert.equal(metrics.counter('flowsentry_feed_problems_total', '').get({ feed: 'mixed', reason: 'FEED_BAD_ENTRY' }), 25);
    assert.equal(metrics.counter('flowsentry_feed_problems_total', '').get({ feed: 'mixed', reason: 'FEED_HOST_BITS' }), 1);
    await set.close();
  });

  it('reads an unchanged source without parsing or rebuilding', async () => {
    const { set, metrics } = setOf({ c2: '203.0.113.0/24\n' });
    await set.start();
    const index = set.current();
    assert.equal((await set.refresh())[0]?.outcome, 'unchanged');
    assert.equal(set.current(), index);
    assert.equal(metrics.counter('flowsentry_feed_unchanged_total', '').get({ feed: 'c2' }), 1);
  });

  it('reads a feed once when refreshes overlap', async () => {
    const { set, source } = setOf({ c2: '203.0.113.0/24\n' });
    await Promise.all([set.refresh(), set.refresh('c2'), set.refresh()]);
    assert.equal(source('c2').reads, 1);
  });

  it('refreshes each feed on its period until closed', async () => {
    const { set, source } = setOf({ c2: '203.0.113.0/24\n' }, 5);
    await set.start();
    source('c2').set('198.51.100.0/24\n');
    await waitFor(() => set.current().match('198.51.100.1'), { intervalMs: 5, description: 'the periodic refresh' });
    await waitFor(() => source('c2').reads >= 4, { intervalMs: 5, description: 'more periodic reads' });
    await set.close();
    await assert.rejects(set.refresh(), /the feed set is closed/);
  });

  it('never keeps a process alive: a started set with a long period lets node exit', () => {
    const script = [
      "import { FeedSet } from './detect/feeds/feed-set.ts';",
      "import { MemoryFeedSource } from './detect/feeds/memory-feed-source.ts';",
      "const set = new FeedSet([{ name: 'a', location: 'a.txt', refreshMs: 3_600_000 }], { sourceOf: () => new MemoryFeedSource('a', '192.0.2.1') });",
      "console.log((await set.start())[0].outcome);",
    ].join('\n');
    const repo = fileURLToPath(new URL('../../../../', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.stderr, '');
    assert.equal(child.stdout, 'loaded\n');
    assert.equal(child.status, 0);
  });

  it('rejects bad specs with every problem at once', () => {
    const specs = [
      { name: 'a', location: 'https://feeds.example/a.txt' },
      { name: 'a', location: 'ftp://feeds.example/b.txt', format: 'json', refreshMs: -1 },
      { name: ' c', location: '', colour: 'red' },
    ] as unknown as FeedSpec[];
    assert.throws(
      () => new FeedSet(specs),
      (error: unknown) => {
        assert.ok(error instanceof FeedConfigError);
        assert.deepEqual(error.problems, [
          "feeds[1].name: 'a' is already the name of another feed",
          "feeds[1].location: 'ftp://feeds.example/b.txt': only http:, https: and file: URLs (or a path) are read",
          'feeds[1].format: expected one of text, csv, auto',
          'feeds[1].refreshMs: expected a whole number of milliseconds from 0 (read once) to 2147483647',
          "feeds[2]: unknown field 'colour' (known: name, location, format, refreshMs)",
          'feeds[2].name: expected a non-empty name without surrounding blanks or control characters',
          'feeds[2].location: expected a file path or an http(s) URL',
        ]);
        return true;
      },
    );
  });

  it('refuses to refresh a feed it does not have', async () => {
    const { set } = setOf({ c2: '203.0.113.0/24\n' });
    await assert.rejects(set.refresh('nope'), /no feed is named 'nope' \(feeds: c2\)/);
  });
});
