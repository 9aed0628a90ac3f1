import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FeedReadError } from '../../../../detect/feeds/feed-errors.js';
import { FeedSet } from '../../../../detect/feeds/feed-set.js';
import { FileFeedSource } from '../../../../detect/feeds/file-feed-source.js';
import { HttpFeedSource } from '../../../../detect/feeds/http-feed-source.js';
import type { FeedProblem } from '../../../../detect/feeds/feed.js';
import { MetricsRegistry } from '../../../../runtime/metrics.js';

/** A feed server whose answer the test sets, recording the conditional headers of every request. */
class FeedServer {
  readonly requests: { path: string; ifNoneMatch?: string; ifModifiedSince?: string }[] = [];
  answer: (request: IncomingMessage, response: ServerResponse) => void = (_, response) => response.writeHead(404).end();
  private readonly server = createServer((request, response) => {
    const header = (name: string) => (typeof request.headers[name] === 'string' ? request.headers[name] : undefined);
    this.requests.push({ path: request.url ?? '', ifNoneMatch: header('if-none-match'), ifModifiedSince: header('if-modified-since') });
    this.answer(request, response);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Answers 200 with `body` and these validators, or 304 when the request carries the same ETag. */
  serve(body: string, etag: string, lastModified: string): void {
    this.answer = (request, response) => {
      if (request.headers['if-none-match'] === etag) return void response.writeHead(304, { etag }).end();
      response.writeHead(200, { 'content-type': 'text/plain', etag, 'last-modified': lastModified }).end(body);
    };
  }
}

const mondayNoon = 'Mon, 23 Nov 2026 12:00:00 GMT';
const tuesdayNoon = 'Tue, 24 Nov 2026 12:00:00 GMT';

describe('Detect > feeds > sources', () => {
  const server = new FeedServer();
  let base = '';
  before(async () => {
    base = await server.start();
  });
  after(() => server.stop());

  describe('HTTP, through a feed set', () => {
    it('loads, sends the validators back, keeps data on 304 and on 500, and swaps in new content', async () => {
      const problems: FeedProblem[] = [];
      const metrics = new MetricsRegistry();
      const set = new FeedSet([{ name: 'c2', location: `${base}/c2.txt`, refreshMs: 0 }], { metrics, onProblem: (problem) => problems.push(problem) });
      const requestsBefore = server.requests.length;
      const requests = () => server.requests.slice(requestsBefore);

      server.serve('198.51.100.7 # v1\n', '"v1"', mondayNoon);
      assert.equal((await set.start())[0]?.outcome, 'loaded');
      assert.deepEqual(set.current().match('198.51.100.7'), { feed: 'c2', entry: '198.51.100.7', note: 'v1' });
      assert.deepEqual(requests()[0], { path: '/c2.txt', ifNoneMatch: undefined, ifModifiedSince: undefined });

      const first = set.current();
      assert.equal((await set.refresh())[0]?.outcome, 'unchanged');
      assert.deepEqual(requests()[1], { path: '/c2.txt', ifNoneMatch: '"v1"', ifModifiedSince: mondayNoon });
      assert.equal(set.current(), first);

      server.serve('203.0.113.0/24 # v2\n', '"v2"', tuesdayNoon);
      assert.equal((await set.refresh())[0]?.outcome, 'loaded');
      assert.equal(set.current().match('198.51.100.7'), undefined);
      assert.deepEqual(set.current().match('203.0.113.80'), { feed: 'c2', entry: '203.0.113.0/24', note: 'v2' });

      server.answer = (_, response) => response.writeHead(500, 'Internal Server Error').end('oops');
      const [failed] = await set.refresh();
      assert.equal(failed?.outcome, 'failed');
      assert.equal(set.current().match('203.0.113.80')?.note, 'v2');
      assert.equal(metrics.counter('flowsentry_feed_refresh_failures_total', '').get({ feed: 'c2', reason: 'FEED_READ_FAILED' }), 1);
      assert.deepEqual(problems.map((problem) => problem.message), [`c2: ${base}/c2.txt: HTTP 500 Internal Server Error`]);
      assert.equal(set.status()[0]?.failures, 1);

      server.serve('203.0.113.0/24 # v2\n', '"v2"', tuesdayNoon);
      assert.equal((await set.refresh())[0]?.outcome, 'unchanged');
      assert.deepEqual(requests().at(-1), { path: '/c2.txt', ifNoneMatch: '"v2"', ifModifiedSince: tuesdayNoon });
      assert.equal(set.status()[0]?.failures, 0);
      assert.equal(metrics.counter('flowsentry_feed_loads_total', '').get({ feed: 'c2' }), 2);
      await set.close();
    });

    it('reads a CSV feed and names the entry and its note', async () => {
      server.answer = (_, response) => response.writeHead(200, { 'content-type': 'text/csv' }).end('"ip","description"\n"2001:DB8::BAD","c2, ipv6"\n');
      const set = new FeedSet([{ name: 'v6', location: `${base}/v6.csv`, refreshMs: 0 }], { onProblem: () => undefined });
      await set.start();
      assert.deepEqual(set.current().match('2001:db8::bad'), { feed: 'v6', entry: '2001:db8::bad', note: 'c2, ipv6' });
      await set.close();
    });

    it('fails a request with no answer in time, and one to a closed port, as retriable', async () => {
      server.answer = () => undefined;
      const slow = new HttpFeedSource('slow', `${base}/slow.txt`, { timeoutMs: 50 });
      await assert.rejects(slow.read(undefined), (error: unknown) => {
        assert.ok(error instanceof FeedReadError);
        assert.equal(error.retriable, true);
        assert.equal(error.message, `slow: ${base}/slow.txt: no complete answer within 50 ms`);
        return true;
      });
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      await assert.rejects(new HttpFeedSource('gone', `http://127.0.0.1:${port}/x.txt`).read(undefined), (error: unknown) => {
        assert.ok(error instanceof FeedReadError);
        assert.equal(error.retriable, true);
        assert.match(error.message, /^gone: http:\/\/127\.0\.0\.1:\d+\/x\.txt: request failed: fetch failed: .*ECONNREFUSED/);
        return true;
      });
    });

    it('refuses a body over the size limit, and says a 404 will not get better by itself', async () => {
      const body = '192.0.2.1\n'.repeat(100);
      const limited = new HttpFeedSource('big', `${base}/big.txt`, { maxBytes: 500 });
      server.answer = (_, response) => response.writeHead(200, { 'content-length': body.length }).end(body);
      await assert.rejects(limited.read(undefined), /^FeedReadError: big: .*: body of 1000 bytes is over the limit of 500$/);
      server.answer = (_, response) => {
        response.writeHead(200);
        for (let i = 0; i < 10; i++) response.write(body.slice(i * 100, i * 100 + 100));
        response.end();
      };
      await assert.rejects(limited.read(undefined), /^FeedReadError: big: .*: body is over the limit of 500 bytes$/);
      server.answer = (_, response) => response.writeHead(404, 'Not Found').end();
      await assert.rejects(new HttpFeedSource('missing', `${base}/missing.txt`).read(undefined), (error: unknown) => {
        assert.ok(error instanceof FeedReadError);
        assert.equal(error.status, 404);
        assert.equal(error.retriable, false);
        return true;
      });
    });
  });

  describe('files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowsentry-feeds-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('picks up a file changed on disk, and keeps the data while the file is gone', async () => {
      const path = join(dir, 'scanners.txt');
      writeFileSync(path, '198.51.100.7\n');
      const problems: FeedProblem[] = [];
      const set = new FeedSet([{ name: 'scanners', location: path, refreshMs: 0 }], { onProblem: (problem) => problems.push(problem) });
      assert.equal((await set.start())[0]?.outcome, 'loaded');
      assert.equal(set.current().match('198.51.100.7')?.entry, '198.51.100.7');
      assert.equal((await set.refresh())[0]?.outcome, 'unchanged');

      writeFileSync(path, '198.51.100.7\n203.0.113.0/24 # added\n');
      assert.equal((await set.refresh())[0]?.outcome, 'loaded');
      assert.deepEqual(set.current().match('203.0.113.1'), { feed: 'scanners', entry: '203.0.113.0/24', note: 'added' });

      rmSync(path);
      const [gone] = await set.refresh();
      assert.equal(gone?.outcome, 'failed');
      assert.equal(gone?.failure?.message, `scanners: ${path}: cannot open: ENOENT`);
      assert.equal(set.current().match('203.0.113.1')?.note, 'added');
      await set.close();
    });

    it('reads a file: URL', async () => {
      const path = join(dir, 'url.txt');
      writeFileSync(path, '192.0.2.0/24\n');
      const read = await new FileFeedSource('url', pathToFileURL(path).href).read(undefined);
      assert.ok(read.changed);
      assert.equal(read.text, '192.0.2.0/24\n');
    });
  });
});
