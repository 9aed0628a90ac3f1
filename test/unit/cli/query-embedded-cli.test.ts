import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedStore } from '../../../sink/embedded/embedded-store.js';
import { flowIdOf } from '../../../sink/opensearch/documents.js';
import { defaultEmbeddedStorePath, embeddedStorePath, flowStoreFromEnv } from '../../../sink/query/store-from-env.js';
import { runCli } from '../../support/cli.js';
import { dataset, datasetFlows, flowNames, frontendPod, minute, T0 } from '../../support/flow-dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'flowsentry-query-embedded-'));
const path = join(dir, 'store.db');

/** The environment of a user without OpenSearch, the store where the test filled it. */
function envWith(storePath: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('OPENSEARCH_')) delete env[name];
  delete env.FLOWSENTRY_STORE_PATH;
  return storePath === undefined ? env : { ...env, FLOWSENTRY_STORE_PATH: storePath };
}

const env = envWith(path);
const lines = (text: string) => text.trim().split('\n');

describe('CLI > query > embedded store', () => {
  before(async () => {
    const store = EmbeddedStore.open(path);
    // The last flow is held back: written while a query process reads.
    assert.deepEqual(await store.outlet().write(dataset().slice(0, -1).map((record) => ({ record: { kind: 'flow', record } }))), []);
    store.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers flows as CSV and pages JSON lines with the cursor on stderr, while the pipeline keeps writing', async () => {
    const csv = await runCli(['query', 'flows', '--format', 'csv', '--limit', '10', '--dest-port', '22,3389'], env);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trimEnd().split('\r\n');
    assert.equal(rows[0], 'time,source,source_ip,source_port,dest,dest_ip,dest_port,proto,action,reporter,host,bytes,packets,flow_id');
    assert.deepEqual(rows.slice(1).map((row) => row.split(',')[6]).sort(), ['22', '22', '3389']);
    assert.doesNotMatch(csv.stderr, /--cursor/);

    const writer = EmbeddedStore.open(path);
    try {
      const first = await runCli(['query', 'flows', '--format', 'jsonl', '--limit', '10'], env);
      assert.equal(first.code, 0, first.stderr);
      const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
      assert.ok(cursor, first.stderr);
      // The pipeline writes the last flow between the two pages; the second page shows it.
      assert.deepEqual(await writer.outlet().write([{ record: { kind: 'flow', record: datasetFlows.x4 } }]), []);
      const rest = await runCli(['query', 'flows', '--format', 'jsonl', '--limit', '10', '--cursor', cursor], env);
      assert.equal(rest.code, 0, rest.stderr);
      const ids = [...lines(first.stdout), ...lines(rest.stdout)].map((line) => (JSON.parse(line) as { flow_id: string }).flow_id);
      assert.deepEqual([...ids].sort(), flowNames.map((name) => flowIdOf(datasetFlows[name])).sort());
    } finally {
      writer.close();
    }
  });

  it('answers top talkers, a timeline as a table, the graph and who talked to an address', async () => {
    const talkers = await runCli(['query', 'top-talkers', '--by', 'dest', '--key', 'ip', '--limit', '2', '--format', 'jsonl'], env);
    assert.equal(talkers.code, 0, talkers.stderr);
    assert.deepEqual(lines(talkers.stdout).map((line) => JSON.parse(line) as unknown), [
      { dest: { namespace: null, name: '203.0.113.66' }, flows: 4, bytes: 53_600 },
      { dest: { namespace: null, name: '10.0.4.11' }, flows: 2, bytes: 14_500 },
    ]);

    const at = new Date(T0 + 5 * minute).toISOString();
    const timeline = await runCli(['query', 'timeline', '--pod', `${frontendPod.namespace}/${frontendPod.name}`, '--at', at, '--before', '3m', '--after', '2m'], env);
    assert.equal(timeline.code, 0, timeline.stderr);
    const table = lines(timeline.stdout);
    assert.match(table[0]!, /^ROLE\s+TIME\s+SOURCE\s+SOURCE_IP/);
    assert.deepEqual(table.slice(1).map((row) => row.split(/\s+/)[0]), ['out', 'in', 'out', 'out', 'out', 'out']);

    const graph = await runCli(['query', 'graph', '--namespace', 'stars', '--format', 'jsonl'], env);
    assert.equal(graph.code, 0, graph.stderr);
    const denied = lines(graph.stdout)
      .map((line) => JSON.parse(line) as { source: { name: string }; dest: { name: string }; denied: boolean })
      .filter((edge) => edge.denied);
    assert.deepEqual(denied.map((edge) => `${edge.source.name} -> ${edge.dest.name}`), ['deployment/frontend -> deployment/backend']);

    const callers = await runCli(['query', 'who-talked-to', '--ip', '203.0.113.0/24', '--format', 'csv'], env);
    assert.equal(callers.code, 0, callers.stderr);
    assert.deepEqual(callers.stdout.trimEnd().split('\r\n').map((line) => line.split(',')[0]), ['source_ip', '10.0.1.11', '10.0.4.11', '10.0.2.11']);
  });

  it('says where it looked and what to do when there is no store, and exits 2', async () => {
    const missing = join(dir, 'nowhere', 'store.db');
    const result = await runCli(['query', 'top-talkers'], envWith(missing));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /QUERY_NO_STORE/);
    assert.ok(result.stderr.includes(missing), result.stderr);
    assert.match(result.stderr, /flowsentry run/);
    assert.match(result.stderr, /npm start/);
    assert.match(result.stderr, /set OPENSEARCH_URL/);
    assert.equal(result.stdout, '');
  });

  it('a file that is not a store is a store failure, exit 1', async () => {
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    const result = await runCli(['query', 'flows'], envWith(empty));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /QUERY_STORE_FAILED: embedded store .*empty\.db: EMBEDDED_NOT_A_STORE/);
  });

  it('finds the store at FLOWSENTRY_STORE_PATH, else at .flowsentry/store.db under the current directory', async () => {
    assert.equal(defaultEmbeddedStorePath, '.flowsentry/store.db');
    assert.equal(embeddedStorePath({}, '/srv/flows'), '/srv/flows/.flowsentry/store.db');
    assert.equal(embeddedStorePath({ FLOWSENTRY_STORE_PATH: '' }, '/srv/flows'), '/srv/flows/.flowsentry/store.db');
    assert.equal(embeddedStorePath({ FLOWSENTRY_STORE_PATH: 'data/flows.db' }, '/srv/flows'), '/srv/flows/data/flows.db');
    assert.equal(embeddedStorePath({ FLOWSENTRY_STORE_PATH: '/var/lib/flowsentry/store.db' }, '/srv/flows'), '/var/lib/flowsentry/store.db');
    // With OPENSEARCH_URL set, OpenSearch is asked, whatever the store path says.
    const store = flowStoreFromEnv({ OPENSEARCH_URL: 'http://127.0.0.1:1', FLOWSENTRY_STORE_PATH: join(dir, 'nowhere.db') });
    assert.equal(store.constructor.name, 'OpenSearchFlowStore');
    await store.close();
  });
});
