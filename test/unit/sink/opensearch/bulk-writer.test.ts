import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client } from '@opensearch-project/opensearch';
import { BulkWriter, bulkLines, reasonCodeOf } from '../../../../sink/opensearch/bulk-writer.js';
import type { IndexedDocument } from '../../../../sink/opensearch/documents.js';
import { OutletClosedError } from '../../../../sink/outlet.js';

interface Item {
  readonly status: number;
  readonly error?: { type: string; reason: string };
}

/** A client whose `_bulk` answers by a script: each call gets the ids it was sent and says what happens to each. */
function scriptedClient(answer: (ids: string[], call: number) => Item[] | { fail: number | 'refused' }) {
  const calls: string[][] = [];
  const client = {
    bulk: async ({ body }: { body: string }) => {
      const lines = body.trimEnd().split('\n');
      const ids = lines.filter((_, i) => i % 2 === 0).map((line) => (JSON.parse(line) as { index: { _id: string } }).index._id);
      calls.push(ids);
      const result = answer(ids, calls.length);
      if ('fail' in result) {
        if (result.fail === 'refused') throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'ConnectionError' });
        throw Object.assign(new Error(`Response Error`), { name: 'ResponseError', meta: { statusCode: result.fail } });
      }
      return { body: { errors: result.some((item) => item.status >= 300), items: result.map((item) => ({ index: item })) } };
    },
  };
  return { client: client as unknown as Client, calls };
}

const doc = (id: string, extra: Partial<IndexedDocument> = {}): { doc: IndexedDocument; ref: string } => ({
  doc: { index: 'flowsentry-flows-2026.11.27', id, body: { flow_id: id, pad: 'x'.repeat(100) }, ...extra },
  ref: id,
});

const quick = { backoff: { baseDelayMs: 1, maxDelayMs: 2 }, random: () => 0.5 };

describe('Sink > OpenSearch > bulk writer', () => {
  it('retries only the items answered 429 or 5xx, and rejects the permanently failed ones while their batch-mates land', async () => {
    const { client, calls } = scriptedClient((ids, call) =>
      ids.map((id) => {
        if (id === 'poison') return { status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [source_ip] of type [ip]' } };
        if (call === 1 && id === 'b') return { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } };
        if (call <= 2 && id === 'c') return { status: 503, error: { type: 'unavailable_shards_exception', reason: 'primary not active' } };
        return { status: 201 };
      }),
    );
    const writer = new BulkWriter({ client, ...quick });
    const rejections = await writer.write([doc('a'), doc('b'), doc('poison'), doc('c')]);
    assert.deepEqual(calls, [['a', 'b', 'poison', 'c'], ['b', 'c'], ['c']]);
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.ref, 'poison');
    assert.equal(rejections[0]!.reason, 'OPENSEARCH_MAPPER_PARSING_EXCEPTION');
    assert.match(rejections[0]!.message, /flowsentry-flows-2026\.11\.27\/poison: failed to parse field \[source_ip\]/);
  });

  it('counts a version conflict of a versioned document as written (a newer revision is already there), not of an unversioned one', async () => {
    const { client } = scriptedClient((ids) => ids.map(() => ({ status: 409, error: { type: 'version_conflict_engine_exception', reason: 'current version [3] is higher' } })));
    const writer = new BulkWriter({ client, ...quick });
    const rejections = await writer.write([doc('alert-1', { version: 2 }), doc('flow-1')]);
    assert.deepEqual(
      rejections.map((rejection) => [rejection.ref, rejection.reason]),
      [['flow-1', 'OPENSEARCH_VERSION_CONFLICT_ENGINE_EXCEPTION']],
    );
  });

  it('writes the versioned action line with external_gte', () => {
    const [action, source] = bulkLines({ index: 'i', id: 'x', body: { a: 1 }, version: 4 }).trimEnd().split('\n');
    assert.deepEqual(JSON.parse(action!), { index: { _index: 'i', _id: 'x', version: 4, version_type: 'external_gte' } });
    assert.deepEqual(JSON.parse(source!), { a: 1 });
  });

  it('retries a failed request whole until it is answered: connection refused, 429, 503', async () => {
    const { client, calls } = scriptedClient((ids, call) => (call === 1 ? { fail: 'refused' } : call === 2 ? { fail: 429 } : call === 3 ? { fail: 503 } : ids.map(() => ({ status: 200 }))));
    const rejections = await new BulkWriter({ client, ...quick }).write([doc('a'), doc('b')]);
    assert.deepEqual(rejections, []);
    assert.equal(calls.length, 4);
    assert.deepEqual(calls[3], ['a', 'b']);
  });

  it('cuts requests below the byte and document limits and never sends a document over the byte limit', async () => {
    const { client, calls } = scriptedClient((ids) => ids.map(() => ({ status: 201 })));
    const size = Buffer.byteLength(bulkLines(doc('a').doc));
    const writer = new BulkWriter({ client, maxRequestBytes: size * 3, maxRequestDocs: 2, ...quick });
    const huge = { doc: { index: 'i', id: 'huge', body: { pad: 'x'.repeat(size * 4) } }, ref: 'huge' };
    const rejections = await writer.write([doc('a'), doc('b'), doc('c'), huge, doc('d'), doc('e')]);
    assert.deepEqual(calls, [['a', 'b'], ['c', 'd'], ['e']]);
    assert.deepEqual(rejections.map((rejection) => [rejection.ref, rejection.reason]), [['huge', 'OPENSEARCH_DOCUMENT_TOO_LARGE']]);
  });

  it('halves a request answered 413 until the parts are accepted', async () => {
    const { client, calls } = scriptedClient((ids) => (ids.length > 2 ? { fail: 413 } : ids.map(() => ({ status: 201 }))));
    const rejections = await new BulkWriter({ client, ...quick }).write(['a', 'b', 'c', 'd', 'e'].map((id) => doc(id)));
    assert.deepEqual(rejections, []);
    assert.deepEqual(calls.filter((ids) => ids.length <= 2).flat(), ['a', 'b', 'c', 'd', 'e']);
  });

  it('halves a request refused whole (400) until the one document behind it stands alone, and lands the rest', async () => {
    const { client, calls } = scriptedClient((ids) => (ids.includes('bad') ? { fail: 400 } : ids.map(() => ({ status: 201 }))));
    const rejections = await new BulkWriter({ client, ...quick }).write(['a', 'b', 'bad', 'c', 'd'].map((id) => doc(id)));
    assert.deepEqual(rejections.map((rejection) => [rejection.ref, rejection.reason]), [['bad', 'OPENSEARCH_HTTP_400']]);
    assert.deepEqual(calls.filter((ids) => !ids.includes('bad')).flat().sort(), ['a', 'b', 'c', 'd']);
  });

  it('refuses before sending what would make OpenSearch refuse a whole request: a long id, a negative version', async () => {
    const { client, calls } = scriptedClient((ids) => ids.map(() => ({ status: 201 })));
    const rejections = await new BulkWriter({ client, ...quick }).write([doc('x'.repeat(513)), doc('alert', { version: -1 }), doc('fine')]);
    assert.deepEqual(rejections.map((rejection) => rejection.reason), ['OPENSEARCH_INVALID_DOCUMENT', 'OPENSEARCH_INVALID_DOCUMENT']);
    assert.deepEqual(calls, [['fine']]);
  });

  it('stops retrying when closed: the write rejects as retriable, so nothing is committed', async () => {
    const { client } = scriptedClient(() => ({ fail: 'refused' }));
    const writer = new BulkWriter({ client, backoff: { baseDelayMs: 50, maxDelayMs: 50 }, random: () => 1 });
    const writing = writer.write([doc('a')]);
    setTimeout(() => writer.close(), 20);
    await assert.rejects(writing, (error: unknown) => error instanceof OutletClosedError && error.retriable);
  });

  it('names reason codes after the OpenSearch error type', () => {
    assert.equal(reasonCodeOf('mapper_parsing_exception'), 'OPENSEARCH_MAPPER_PARSING_EXCEPTION');
    assert.equal(reasonCodeOf(undefined), 'OPENSEARCH_UNKNOWN_ERROR');
  });
});
