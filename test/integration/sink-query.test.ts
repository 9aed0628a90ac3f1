import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@opensearch-project/opensearch';
import { bodyOf, flowIdOf, flowDocument, indexPatternOf, type IndexNaming } from '../../sink/opensearch/documents.js';
import { indexTemplateOf, templateNameOf } from '../../sink/opensearch/index-templates.js';
import { openSearchClient } from '../../sink/opensearch/opensearch-client.js';
import { OpenSearchFlowStore } from '../../sink/query/opensearch-flow-store.js';
import type { EnrichedFlow } from '../../schemas/types.js';
import { repoDir } from '../../services/paths.js';
import { childEnv, logLines, runCli } from '../support/cli.js';
import { dataset, datasetFlows, flowNames, frontendPod, minute, T0 } from '../support/flow-dataset.js';
import { flowStoreContract } from '../support/query-contract.js';
import { requiredEnv, uniqueName, waitFor } from '../support/wait.js';

const url = requiredEnv('OPENSEARCH_URL');
const naming: IndexNaming = { prefix: uniqueName('fsq') };
const client: Client = openSearchClient({ url });

/** The flow template under the test's prefix, and the dataset's documents, searchable. */
async function load(flows: readonly EnrichedFlow[]): Promise<void> {
  await client.indices.putIndexTemplate({
    name: templateNameOf('flow', naming),
    body: indexTemplateOf('flow', { shards: 1, replicas: 0, refreshInterval: '1s' }, naming) as never,
  });
  const body = flows.flatMap((flow) => {
    const document = flowDocument(flow, naming);
    return [{ index: { _index: document.index, _id: document.id } }, bodyOf(document)];
  });
  const response = await client.bulk({ body, refresh: 'wait_for' });
  assert.equal(response.body.errors, false, JSON.stringify(response.body.items.slice(0, 3)));
}

let loaded: Promise<void> | undefined;
const loadOnce = () => (loaded ??= load(dataset()));

after(async () => {
  await client.indices.delete({ index: indexPatternOf('flow', naming) }, { ignore: [404] });
  await client.indices.deleteIndexTemplate({ name: templateNameOf('flow', naming) }, { ignore: [404] });
  await client.close();
});

flowStoreContract({
  name: 'OpenSearchFlowStore',
  async create() {
    await loadOnce();
    return new OpenSearchFlowStore({ client, naming, ownsClient: false });
  },
});

describe('Sink > query > OpenSearch', () => {
  before(() => loadOnce());

  it('keeps the dataset in two daily indices, split at UTC midnight', async () => {
    const indices = await client.cat.indices({ index: indexPatternOf('flow', naming), format: 'json' });
    const names = (indices.body as unknown as { index: string }[]).map((entry) => entry.index).sort();
    assert.deepEqual(names, [`${naming.prefix}-flows-2026.11.27`, `${naming.prefix}-flows-2026.11.28`]);
  });

  it('answers empty, not an error, when no index exists under a prefix', async () => {
    const store = new OpenSearchFlowStore({ client, naming: { prefix: uniqueName('fsq-none') }, ownsClient: false });
    assert.deepEqual(await store.flows({}, { limit: 10 }), { flows: [] });
    assert.deepEqual(await store.serviceGraph({}, 'workload'), []);
  });

  it('says what OpenSearch refused, with a code', async () => {
    const store = new OpenSearchFlowStore({ client, naming, ownsClient: false });
    await assert.rejects(store.flows({ dest: { ip: ['not-an-address'] } }, { limit: 10 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'QUERY_STORE_FAILED');
      assert.match(error.message, /400/);
      return true;
    });
  });
});

describe('CLI > query', () => {
  before(() => loadOnce());
  const env = { ...process.env, OPENSEARCH_URL: url };
  const common = ['--index-prefix', naming.prefix];

  it('flows as CSV, a page at a time, with the cursor on stderr', async () => {
    const first = await runCli(['query', 'flows', ...common, '--format', 'csv', '--limit', '10', '--dest-port', '22,3389'], env);
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.trimEnd().split('\r\n');
    assert.equal(lines[0], 'time,source,source_ip,source_port,dest,dest_ip,dest_port,proto,action,reporter,host,bytes,packets,flow_id');
    assert.equal(lines.length, 4);
    assert.deepEqual(lines.slice(1).map((line) => line.split(',')[6]).sort(), ['22', '22', '3389']);
    assert.doesNotMatch(first.stderr, /--cursor/);

    const paged = await runCli(['query', 'flows', ...common, '--format', 'jsonl', '--limit', '10'], env);
    assert.equal(paged.code, 0, paged.stderr);
    const cursor = /--cursor (\S+)/.exec(paged.stderr)?.[1];
    assert.ok(cursor, paged.stderr);
    const rest = await runCli(['query', 'flows', ...common, '--format', 'jsonl', '--limit', '10', '--cursor', cursor], env);
    const ids = [...paged.stdout.trim().split('\n'), ...rest.stdout.trim().split('\n')].map((line) => (JSON.parse(line) as { flow_id: string }).flow_id);
    assert.deepEqual([...ids].sort(), flowNames.map((name) => flowIdOf(datasetFlows[name])).sort());
  });

  it('a timeline as a table, and the graph', async () => {
    const at = new Date(T0 + 5 * minute).toISOString();
    const timeline = await runCli(['query', 'timeline', ...common, '--pod', `${frontendPod.namespace}/${frontendPod.name}`, '--at', at, '--before', '3m', '--after', '2m'], env);
    assert.equal(timeline.code, 0, timeline.stderr);
    const rows = timeline.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^ROLE\s+TIME\s+SOURCE\s+SOURCE_IP/);
    assert.deepEqual(rows.slice(1).map((row) => row.split(/\s+/)[0]), ['out', 'in', 'out', 'out', 'out', 'out']);

    const graph = await runCli(['query', 'graph', ...common, '--namespace', 'stars', '--format', 'jsonl'], env);
    assert.equal(graph.code, 0, graph.stderr);
    const denied = graph.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { source: { name: string }; dest: { name: string }; denied: boolean })
      .filter((edge) => edge.denied);
    assert.deepEqual(denied.map((edge) => `${edge.source.name} -> ${edge.dest.name}`), ['deployment/frontend -> deployment/backend']);
  });

  it('lists every problem in the flags at once, and exits 2', async () => {
    const result = await runCli(['query', 'flows', ...common, '--from', 'yesterday', '--dest-port', '70000', '--proto', 'gre', '--format', 'xml'], env);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /4 problem\(s\)/);
    for (const flag of ['--from', '--dest-port', '--proto', '--format']) assert.match(result.stderr, new RegExp(`  - ${flag}: `));
  });

  it('says OPENSEARCH_URL is needed when it is not set and there is no embedded store', async () => {
    const without: NodeJS.ProcessEnv = { ...env, FLOWSENTRY_STORE_PATH: join(tmpdir(), `flowsentry-no-store-${process.pid}`, 'store.db') };
    delete without.OPENSEARCH_URL;
    const result = await runCli(['query', 'top-talkers', ...common], without);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /OPENSEARCH_URL is not set/);
  });

  it('serves the HTTP API until SIGTERM', async () => {
    const child = spawn(process.execPath, ['bin/flowsentry.js', 'query', 'serve', ...common, '--port', '0'], { cwd: repoDir, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
    try {
      const base = await waitFor(() => logLines(stderr).map((line) => /^serving on (http:\/\/\S+)/.exec(line.msg)?.[1]).find(Boolean), { timeoutMs: 30_000, description: 'the server to listen' });
      const talkers = await fetch(`${base}/v1/top-talkers?by=dest&key=ip&limit=2`);
      assert.equal(talkers.status, 200);
      assert.deepEqual(await talkers.json(), {
        talkers: [
          { dest: { namespace: null, name: '203.0.113.66' }, flows: 4, bytes: 53_600 },
          { dest: { namespace: null, name: '10.0.4.11' }, flows: 2, bytes: 14_500 },
        ],
      });

      const first = await fetch(`${base}/v1/flows?limit=10&source_namespace=stars`);
      const body = (await first.json()) as { flows: { flow_id: string }[]; next: string };
      assert.equal(body.flows.length, 10);
      assert.equal(first.headers.get('x-next-cursor'), body.next);
      const second = (await (await fetch(`${base}/v1/flows?limit=10&source_namespace=stars&cursor=${body.next}`)).json()) as { flows: unknown[]; next?: string };
      assert.equal(second.flows.length, 1);
      assert.equal(second.next, undefined);

      const csv = await fetch(`${base}/v1/who-talked-to?ip=203.0.113.66&format=csv`);
      assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
      assert.deepEqual((await csv.text()).trimEnd().split('\r\n').map((line) => line.split(',')[0]), ['source_ip', '10.0.1.11', '10.0.4.11', '10.0.2.11']);

      const bad = await fetch(`${base}/v1/flows?action=maybe&limit=0&colour=red`);
      assert.equal(bad.status, 400);
      const problems = ((await bad.json()) as { error: { problems: string[] } }).error.problems;
      assert.deepEqual(problems.map((problem) => problem.split(':')[0]).sort(), ['action', 'colour', 'limit']);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });
});
