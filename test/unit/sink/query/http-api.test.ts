import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { handleQueryRequest, startQueryServer, type QueryServer } from '../../../../sink/query/http-api.js';
import { MemoryFlowStore } from '../../../../sink/query/memory-flow-store.js';
import { dataset } from '../../../support/flow-dataset.js';

describe('Sink > query > HTTP API', () => {
  const store = new MemoryFlowStore(dataset());

  it('answers JSON by default, with the next cursor in the body and a header', async () => {
    const reply = await handleQueryRequest(store, 'GET', '/v1/flows?limit=3&action=deny,allow');
    assert.equal(reply.status, 200);
    const body = JSON.parse(reply.body) as { flows: unknown[]; next: string };
    assert.equal(body.flows.length, 3);
    assert.equal(reply.headers['x-next-cursor'], body.next);
  });

  it('400 with every problem, format included', async () => {
    const reply = await handleQueryRequest(store, 'GET', '/v1/graph?format=xml&node=pod&to=never');
    assert.equal(reply.status, 400);
    assert.deepEqual(JSON.parse(reply.body), {
      error: {
        code: 'QUERY_BAD_REQUEST',
        message: '3 problem(s) in the parameters',
        problems: [
          "format: 'xml' is not one of json, jsonl, csv",
          "to: 'never' is not a time: ISO 8601 (2026-11-27T12:00:00Z), epoch ms, now, or relative (-1h, now-30m)",
          "node: 'pod' is not one of workload, name_aggr",
        ],
      },
    });
  });

  it('404 for an unknown path, 405 for other methods', async () => {
    assert.equal((await handleQueryRequest(store, 'GET', '/v1/everything')).status, 404);
    const post = await handleQueryRequest(store, 'POST', '/v1/flows');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  describe('over a socket', () => {
    let server: QueryServer;
    before(async () => {
      server = await startQueryServer({ store, port: 0 });
    });
    after(() => server.close());

    it('serves CSV and JSON lines', async () => {
      const csv = await fetch(`${server.url}/v1/top-talkers?by=dest&key=workload&limit=2&format=csv`);
      assert.equal(csv.status, 200);
      assert.equal(await csv.text(), 'rank,dest,flows,bytes\r\n1,pub,4,53600\r\n2,data/statefulset/postgres,2,14500\r\n');
      const jsonl = await fetch(`${server.url}/v1/who-talked-to?ip=203.0.113.66&format=jsonl`);
      assert.equal(jsonl.headers.get('content-type'), 'application/x-ndjson');
      assert.equal((await jsonl.text()).trim().split('\n').length, 3);
    });
  });
});
