import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { codecFor } from '../../../../schemas/codec.js';
import { sampleAlert, sampleResponseAction } from '../../../../schemas/samples.js';
import type { Alert, EnrichedFlow, ResponseAction } from '../../../../schemas/types.js';
import { EmbeddedStore } from '../../../../sink/embedded/embedded-store.js';
import { actionDocument, flowIdOf } from '../../../../sink/opensearch/documents.js';
import { OutletClosedError, type SinkItem, type SinkRecord } from '../../../../sink/outlet.js';
import type { FlowFilter } from '../../../../sink/query/flow-filter.js';
import type { FlowStore } from '../../../../sink/query/flow-store.js';
import { MemoryFlowStore } from '../../../../sink/query/memory-flow-store.js';
import { dataset, datasetFlows } from '../../../support/flow-dataset.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../../../support/enriched-flows.js';

const dir = mkdtempSync(join(tmpdir(), 'flowsentry-embedded-outlet-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
/** A fresh store file path, in a directory that does not exist yet. */
const freshPath = () => join(dir, `case-${++files}`, 'nested', 'store.db');

const item = (record: SinkRecord): SinkItem => ({ record });
const flowItems = (flows: readonly EnrichedFlow[]) => flows.map((record) => item({ kind: 'flow', record }));
const alertAt = (revision: number, summary = `revision ${revision}`): Alert => ({ ...sampleAlert, revision, summary });
const actionAs = (status: ResponseAction['status'], requestedAt: number): ResponseAction => ({ ...sampleResponseAction, status, requested_at: requestedAt });

/** What the file holds, read with a connection of the test's own. */
function rawRows<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

async function allIds(store: FlowStore, filter: FlowFilter, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.flows(filter, { limit, ...(cursor ? { cursor } : {}) });
    assert.ok(page.flows.length <= limit);
    if (page.next) assert.equal(page.flows.length, limit, 'only a full page has a next cursor');
    ids.push(...page.flows.map((flow) => flow.flow_id));
    cursor = page.next;
    pages++;
    assert.ok(pages < 1_000, 'paging ends');
  } while (cursor);
  return { ids, pages };
}

describe('Sink > embedded > outlet', () => {
  it('creates the directory and the file, in WAL mode, at the schema version', async () => {
    const path = freshPath();
    const store = EmbeddedStore.open(path);
    store.close();
    assert.deepEqual(rawRows(path, 'SELECT version FROM schema_version'), [{ version: 1 }]);
    assert.deepEqual(rawRows(path, 'PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
    const indexes = rawRows<{ name: string }>(path, "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'flows' AND sql IS NOT NULL ORDER BY name");
    assert.deepEqual(indexes.map((index) => index.name), ['flows_dest_ip', 'flows_dest_namespace', 'flows_position', 'flows_source_ip', 'flows_source_namespace']);
  });

  it('writes the same batch twice onto itself: the counts stay, by the OpenSearch ids', async () => {
    const path = freshPath();
    const store = EmbeddedStore.open(path);
    const batch = [...flowItems(dataset()), item({ kind: 'alert', record: alertAt(2) }), item({ kind: 'action', record: actionAs('applied', 1_000) })];
    assert.deepEqual(await store.outlet().write(batch), []);
    assert.deepEqual(store.counts(), { flows: 17, alerts: 1, actions: 1 });
    assert.deepEqual(await store.outlet().write(batch), []);
    assert.deepEqual(store.counts(), { flows: 17, alerts: 1, actions: 1 });

    // The same flow with its empty fields left out (as a writer may), and as decoded from the bus, is the same flow.
    const sparse = Object.fromEntries(Object.entries(datasetFlows.x1).filter(([, value]) => value !== null && !(Array.isArray(value) && value.length === 0))) as EnrichedFlow;
    const decoded = codecFor('EnrichedFlow').decode(codecFor('EnrichedFlow').encode(sparse));
    assert.ok(Object.keys(sparse).length < Object.keys(decoded).length);
    assert.deepEqual(await store.outlet().write(flowItems([sparse, decoded])), []);
    assert.equal(store.counts().flows, 17);
    store.close();

    const ids = rawRows<{ flow_id: string }>(path, 'SELECT flow_id FROM flows').map((row) => row.flow_id);
    assert.deepEqual(ids.sort(), dataset().map(flowIdOf).sort());
    assert.deepEqual(rawRows(path, 'SELECT count(*) AS n FROM flows JOIN flow_records USING (id)'), [{ n: 17 }], 'each flow has its record once');
    assert.deepEqual(rawRows(path, 'SELECT count(*) AS n FROM flow_records'), [{ n: 17 }]);
    assert.deepEqual(rawRows(path, 'SELECT id, action_id, status FROM actions'), [
      { id: actionDocument(actionAs('applied', 1_000)).id, action_id: sampleResponseAction.action_id, status: 'applied' },
    ]);
  });

  it('keeps an action once per status: a decision stated again with fresh times replaces itself, another outcome is a row of its own', async () => {
    const path = freshPath();
    const store = EmbeddedStore.open(path);
    await store.outlet().write([item({ kind: 'action', record: actionAs('failed', 1_000) })]);
    await store.outlet().write([item({ kind: 'action', record: actionAs('failed', 2_000) })]);
    await store.outlet().write([item({ kind: 'action', record: actionAs('applied', 3_000) })]);
    assert.deepEqual(store.counts(), { flows: 0, alerts: 0, actions: 2 });
    store.close();
    assert.deepEqual(rawRows(path, 'SELECT status, requested_at FROM actions ORDER BY requested_at'), [
      { status: 'failed', requested_at: 2_000 },
      { status: 'applied', requested_at: 3_000 },
    ]);
  });

  it('keeps the newest revision of an alert: a late older one counts as written and changes nothing', async () => {
    const path = freshPath();
    const store = EmbeddedStore.open(path);
    const outlet = store.outlet();
    assert.deepEqual(await outlet.write([item({ kind: 'alert', record: alertAt(1) })]), []);
    assert.deepEqual(await outlet.write([item({ kind: 'alert', record: alertAt(3) })]), []);
    assert.deepEqual(await outlet.write([item({ kind: 'alert', record: alertAt(2) })]), []);
    // Two revisions in one batch, the older last.
    assert.deepEqual(await outlet.write([item({ kind: 'alert', record: alertAt(5) }), item({ kind: 'alert', record: alertAt(4) })]), []);
    const stored = () => rawRows<{ revision: number; record: string }>(path, 'SELECT revision, record FROM alerts');
    assert.equal(stored().length, 1);
    assert.equal(stored()[0]!.revision, 5);
    assert.deepEqual(JSON.parse(stored()[0]!.record), alertAt(5));

    // The same revision stated again replaces it (OpenSearch's external_gte).
    await outlet.write([item({ kind: 'alert', record: alertAt(5, 'restated') })]);
    assert.equal((JSON.parse(stored()[0]!.record) as Alert).summary, 'restated');
    // An alert without a revision is revision 0: older than any.
    const unrevised = alertAt(0);
    delete unrevised.revision;
    await outlet.write([item({ kind: 'alert', record: unrevised })]);
    assert.equal(stored()[0]!.revision, 5);
    store.close();
  });

  it('keeps everything after close and reopen, and answers the same', async () => {
    const path = freshPath();
    const first = EmbeddedStore.open(path);
    await first.outlet().write([...flowItems(dataset()), item({ kind: 'alert', record: alertAt(2) }), item({ kind: 'action', record: actionAs('applied', 1) })]);
    const before = await first.flowStore().flows({}, { limit: 100 });
    first.close();
    first.close();

    const again = EmbeddedStore.open(path);
    assert.deepEqual(again.counts(), { flows: 17, alerts: 1, actions: 1 });
    assert.deepEqual(await again.flowStore().flows({}, { limit: 100 }), before);
    assert.deepEqual(await again.flowStore().flows({}, { limit: 100 }), await new MemoryFlowStore(dataset()).flows({}, { limit: 100 }));
    again.close();

    const reader = EmbeddedStore.open(path, { readonly: true });
    assert.deepEqual(reader.counts(), { flows: 17, alerts: 1, actions: 1 });
    assert.throws(() => reader.outlet(), /read-only/);
    reader.close();
  });

  it('lets a reader in another connection see each committed batch while the writer goes on (WAL)', async () => {
    const path = freshPath();
    const writer = EmbeddedStore.open(path);
    const [firstHalf, secondHalf] = [dataset().slice(0, 8), dataset().slice(8)];
    await writer.outlet().write(flowItems(firstHalf));

    const reader = EmbeddedStore.open(path, { readonly: true });
    const readerFlows = reader.flowStore();
    assert.equal((await readerFlows.flows({}, { limit: 100 })).flows.length, 8);

    // A reader in the middle of a read transaction: the writer neither waits for it nor disturbs its snapshot.
    const snapshot = new Database(path, { readonly: true });
    snapshot.exec('BEGIN');
    assert.deepEqual(snapshot.prepare('SELECT count(*) AS n FROM flows').get(), { n: 8 });
    const started = performance.now();
    assert.deepEqual(await writer.outlet().write(flowItems(secondHalf)), []);
    assert.ok(performance.now() - started < 2_000, 'the writer did not wait for the reader');
    assert.deepEqual(snapshot.prepare('SELECT count(*) AS n FROM flows').get(), { n: 8 });
    snapshot.exec('COMMIT');
    assert.deepEqual(snapshot.prepare('SELECT count(*) AS n FROM flows').get(), { n: 17 });
    snapshot.close();

    assert.deepEqual(reader.counts().flows, 17);
    assert.deepEqual(await readerFlows.topTalkers({}, { by: 'dest', key: 'ip', limit: 1 }), [{ dest: { namespace: null, name: '203.0.113.66' }, flows: 4, bytes: 53_600 }]);
    reader.close();
    writer.close();
  });

  it('refuses a record it cannot store, with a reason, while its batch-mates land', async () => {
    const store = EmbeddedStore.open(freshPath());
    const flows = dataset();
    const badFlow = item({ kind: 'flow', record: { ...flows[0]!, proto: 'tcp' as unknown as number } });
    const negativeRevision = item({ kind: 'alert', record: alertAt(-1) });
    const noRequestTime = item({ kind: 'action', record: { ...actionAs('applied', 1), requested_at: undefined as unknown as number } });
    const boolKind = item({ kind: 'action', record: { ...actionAs('failed', 1), kind: true as unknown as ResponseAction['kind'] } });
    const batch = [
      ...flowItems(flows.slice(0, 5)),
      badFlow,
      item({ kind: 'alert', record: alertAt(1) }),
      negativeRevision,
      noRequestTime,
      boolKind,
      item({ kind: 'action', record: actionAs('applied', 1) }),
      ...flowItems(flows.slice(5)),
    ];
    const rejections = await store.outlet().write(batch);
    const byReason = rejections.map((rejection) => ({ item: rejection.item, reason: rejection.reason }));
    assert.deepEqual(
      byReason.sort((a, b) => a.reason.localeCompare(b.reason)),
      [
        { item: negativeRevision, reason: 'EMBEDDED_CONSTRAINT_CHECK' },
        { item: noRequestTime, reason: 'EMBEDDED_CONSTRAINT_NOTNULL' },
        { item: badFlow, reason: 'EMBEDDED_INVALID_RECORD' },
        { item: boolKind, reason: 'EMBEDDED_INVALID_RECORD' },
      ],
    );
    assert.ok(rejections.every((rejection) => batch.includes(rejection.item)), 'the very items given come back');
    assert.match(rejections.find((rejection) => rejection.item === badFlow)!.message, /proto/);
    assert.match(rejections.find((rejection) => rejection.item === negativeRevision)!.message, /revision >= 0/);
    assert.deepEqual(store.counts(), { flows: 17, alerts: 1, actions: 1 });
    const records = await store.flowStore().flows({}, { limit: 100 });
    assert.deepEqual(records.flows.map((flow) => flow.flow_id).sort(), flows.map(flowIdOf).sort());
    store.close();
  });

  it('pages through thousands of flows with cursors, as the memory store does', async () => {
    const store = EmbeddedStore.open(freshPath());
    const start = Date.UTC(2026, 10, 27, 12);
    const pods = Array.from({ length: 30 }, (_, i) => deploymentPod(`ns-${i % 4}`, `app-${i % 6}`, `10.9.${i % 3}.${10 + i}`, `p${i}`));
    const flows = Array.from({ length: 2_500 }, (_, i) =>
      enrichedFlow(pods[i % pods.length]!, i % 5 === 0 ? publicAddress(`198.51.100.${i % 50}`) : pods[(i * 7 + 3) % pods.length]!, {
        // Runs of up to 7 flows end at the same moment: pages split them by flow id.
        at: start + Math.floor(i / 7) * 1_000,
        port: [80, 443, 5432][i % 3]!,
        bytesOut: i,
      }),
    );
    // Written out of order, in batches of 250.
    const shuffled = [...flows].reverse();
    for (let i = 0; i < shuffled.length; i += 250) assert.deepEqual(await store.outlet().write(flowItems(shuffled.slice(i, i + 250))), []);
    assert.equal(store.counts().flows, 2_500);

    const embedded = store.flowStore();
    const memory = new MemoryFlowStore(flows);
    const filters: FlowFilter[] = [
      {},
      { dest: { namespace: ['ns-1'] } },
      { any: [{ ip: ['10.9.1.0/24'] }], from: start + 60_000, to: start + 300_000 },
      { dest: { ip: ['198.51.100.0/28'] }, source: { label: ['app=app-2'] } },
      { action: ['deny'] },
    ];
    for (const filter of filters) {
      const expected = await allIds(memory, filter, 10_000);
      const paged = await allIds(embedded, filter, 97);
      assert.deepEqual(paged.ids, expected.ids, JSON.stringify(filter));
      assert.equal(paged.pages, Math.max(1, Math.ceil(expected.ids.length / 97)));
    }
    assert.equal((await allIds(embedded, {}, 97)).ids.length, 2_500);
    await assert.rejects(embedded.flows({}, { limit: 10, cursor: 'not a cursor' }), { code: 'QUERY_BAD_CURSOR' });
    store.close();
  });

  it('waits out another writer holding the lock, and lands the batch once it lets go', async () => {
    const path = freshPath();
    const store = EmbeddedStore.open(path, { busyTimeoutMs: 20, outlet: { backoff: { baseDelayMs: 10, maxDelayMs: 20 } } });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    let settled = false;
    const writing = store
      .outlet()
      .write(flowItems(dataset()))
      .finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(settled, false, 'the write waits while the other writer holds the lock');
    other.exec('COMMIT');
    other.close();
    assert.deepEqual(await writing, []);
    assert.equal(store.counts().flows, 17);

    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    const blocked = store.outlet().write(flowItems([{ ...datasetFlows.x1, bytes_out: 1 }]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.outlet().close();
    await assert.rejects(blocked, OutletClosedError);
    blocker.exec('ROLLBACK');
    blocker.close();
    await assert.rejects(store.outlet().write(flowItems(dataset())), OutletClosedError);
    assert.equal(store.counts().flows, 17);
    store.close();
  });

  it('refuses a closed store, a missing file read-only, and a file of a newer schema', async () => {
    const path = freshPath();
    const store = EmbeddedStore.open(path);
    const outlet = store.outlet();
    store.close();
    await assert.rejects(outlet.write(flowItems(dataset())), OutletClosedError);

    assert.throws(() => EmbeddedStore.open(join(dir, 'missing.db'), { readonly: true }), { code: 'SQLITE_CANTOPEN' });
    const raw = new Database(path);
    raw.prepare('UPDATE schema_version SET version = 99').run();
    raw.close();
    assert.throws(() => EmbeddedStore.open(path), { code: 'EMBEDDED_SCHEMA_NEWER' });
    assert.throws(() => EmbeddedStore.open(path, { readonly: true }), { code: 'EMBEDDED_SCHEMA_NEWER' });
    const notStore = join(dir, 'not-a-store.db');
    writeFileSync(notStore, 'flows, but not a database\n'.repeat(100));
    assert.throws(() => EmbeddedStore.open(notStore), { code: 'SQLITE_NOTADB' });
  });
});
