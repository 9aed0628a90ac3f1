import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Client } from '@opensearch-project/opensearch';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { uniqueName } from '../support/wait.js';

describe('Services > OpenSearch', () => {
  const node = endpointsFromEnv().openSearchUrl;
  assert.ok(node, 'OPENSEARCH_URL must be set');
  const client = new Client({ node });
  const index = uniqueName('smoke-flows');

  after(async () => {
    await client.indices.delete({ index }, { ignore: [404] });
    await client.close();
  });

  it('indexes a document and finds it again by a term query', async () => {
    await client.indices.create({
      index,
      body: { mappings: { properties: { source_ip: { type: 'ip' }, dest_namespace: { type: 'keyword' } } } },
    });
    await client.index({
      index,
      id: 'flow-1',
      refresh: true,
      body: { source_ip: '10.0.3.7', dest_namespace: 'payments' },
    });
    const found = await client.search({
      index,
      body: { query: { term: { source_ip: '10.0.0.0/16' } } },
    });
    const hits = found.body.hits.hits;
    assert.equal(hits.length, 1);
    assert.equal(hits[0]?._id, 'flow-1');
    assert.equal((hits[0]?._source as { dest_namespace: string }).dest_namespace, 'payments');

    const missed = await client.search({ index, body: { query: { term: { source_ip: '192.168.0.0/16' } } } });
    assert.equal(missed.body.hits.hits.length, 0);
  });
});
