/**
 * `npm run bench -- sink-embedded [flows]` (default 200 000 flows; no service needed): the
 * embedded store (SQLite, WAL, synchronous=FULL) in a temporary directory.
 *
 * - **Write throughput** in flows/s: SinkItems written by the embedded outlet in batches of
 *   2 000 (one transaction each): ids (Avro encoding + SHA-256), JSON, the row and its indexes.
 * - **Baseline, same run:** plain better-sqlite3 inserts of the same rows without the JSON
 *   record into a table without indexes, rows (and ids) built before the timing, same batches,
 *   same pragmas.
 *   The ratio outlet / plain is what ids, JSON and indexes cost.
 * - **Idempotent rewrite:** the same batches written again (every row already there).
 * - **Query latency**, one warm-up round then samples of different arguments, p50 and p99:
 *   `timeline` of a random pod ±15 min (first page of 100), a `flows` page of 100 to one
 *   namespace, `topTalkers` of sources by workload over one hour. Baseline: the cheapest sorted
 *   page, `SELECT flow_id, record ... ORDER BY end_time, flow_id LIMIT 100` with the records parsed.
 *
 * Data: 400 pods (10 namespaces x 10 deployments x 4 pods, in two ReplicaSets), 1 000 public
 * addresses; 70% of flows pod to pod, 30% to the internet; 3% denied; over 48 h. Deterministic (LCG).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EnrichedFlow } from '../schemas/types.js';
import { EmbeddedStore } from '../sink/embedded/embedded-store.js';
import { flowColumns, flowRow, type Cell } from '../sink/embedded/record-rows.js';
import type { SinkItem } from '../sink/outlet.js';
import { enrichedFlow } from '../test/support/enriched-flows.js';
import { random } from './measure.js';
import { report, withBaseline, type Figure } from './report.js';
import { cluster, percentile, SPAN, START, timed, WINDOW } from './support/query-cluster.js';

const FLOWS = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 200_000);
const BATCH = 2_000;
const WARMUPS = 5;
const SAMPLES = 100;
const HOUR = 3_600_000;


function generate(ends: ReturnType<typeof cluster>): EnrichedFlow[] {
  const next = random(1_000);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const ports = [80, 443, 5432, 6379, 8080, 53, 22, 9090];
  return Array.from({ length: FLOWS }, (_, i) =>
    enrichedFlow(pick(ends.pods), next() < 0.7 ? pick(ends.pods) : pick(ends.internet), {
      at: START + Math.floor((i / FLOWS) * SPAN) + Math.floor(next() * 1_000),
      port: pick(ports),
      sourcePort: 30_000 + Math.floor(next() * 30_000),
      action: next() < 0.03 ? 'deny' : 'allow',
      packets: 1 + Math.floor(next() * 200),
      bytesOut: Math.floor(next() * 100_000),
    }),
  );
}

/** Flows/s of the outlet writing every batch (the store is left filled). */
async function throughRate(store: EmbeddedStore, batches: readonly SinkItem[][]): Promise<number> {
  const outlet = store.outlet();
  const started = performance.now();
  for (const batch of batches) {
    const rejected = await outlet.write(batch);
    if (rejected.length > 0) throw new Error(`outlet refused ${rejected.length} flows: ${rejected[0]!.reason}`);
  }
  return FLOWS / ((performance.now() - started) / 1000);
}

/** Flows/s of plain inserts of the same rows' columns but the JSON record: no index, rows built beforehand. */
function plainRate(path: string, flows: readonly EnrichedFlow[]): number {
  const columns = flowColumns;
  const rows = flows.map((flow) => flowRow(flow).cells);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE flows (${columns.join(', ')})`);
  const insert = db.prepare(`INSERT INTO flows (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const batch = db.transaction((slice: readonly (readonly Cell[])[]) => {
    for (const row of slice) insert.run(row);
  });
  const started = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) batch.immediate(rows.slice(i, i + BATCH));
  const rate = FLOWS / ((performance.now() - started) / 1000);
  db.close();
  return rate;
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  const version = db.prepare('SELECT sqlite_version()').pluck().get() as string;
  db.close();
  return version;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-bench-embedded-'));
  try {
    const ends = cluster();
    const flows = generate(ends);
    const batches: SinkItem[][] = [];
    for (let i = 0; i < flows.length; i += BATCH) batches.push(flows.slice(i, i + BATCH).map((record) => ({ record: { kind: 'flow', record } })));

    const plain = plainRate(join(dir, 'plain.db'), flows);
    const path = join(dir, 'store.db');
    const store = EmbeddedStore.open(path);
    const write = await throughRate(store, batches);
    const rewrite = await throughRate(store, batches);
    if (store.counts().flows !== FLOWS) throw new Error(`stored ${store.counts().flows} flows, expected ${FLOWS}`);
    store.close();
    // Closing the last connection checkpointed the log into the file.
    const bytesPerFlow = statSync(path).size / FLOWS;

    // Questions through a read-only connection, as `flowsentry query` asks them.
    const reader = EmbeddedStore.open(path, { readonly: true });
    const questions = reader.flowStore();
    const raw = new Database(path, { readonly: true });
    const firstPage = raw.prepare('SELECT flow_id, record FROM flows JOIN flow_records USING (id) ORDER BY end_time, flow_id LIMIT 100');
    const next = random(99);
    const pods = Array.from({ length: SAMPLES + WARMUPS }, () => ends.pods[Math.floor(next() * ends.pods.length)]!);
    const moments = Array.from({ length: SAMPLES + WARMUPS }, () => START + WINDOW + Math.floor(next() * (SPAN - 2 * WINDOW)));
    let timelineRows = 0;

    const baseline = await timed(SAMPLES, WARMUPS, () => (firstPage.all() as { record: string }[]).map((row) => JSON.parse(row.record) as unknown));
    const timeline = await timed(SAMPLES, WARMUPS, async (i) => {
      const pod = pods[i]!;
      const page = await questions.timeline({ pod: { namespace: pod.namespace!, name: pod.name! }, at: moments[i]!, before: WINDOW, after: WINDOW }, { limit: 100 });
      timelineRows += page.flows.length;
    });
    const namespacePage = await timed(SAMPLES, WARMUPS, (i) => questions.flows({ dest: { namespace: [`team-${i % 10}`] }, from: moments[i]! }, { limit: 100 }));
    const topSamples = SAMPLES / 5;
    const topWorkload = await timed(topSamples, WARMUPS, (i) => questions.topTalkers({ from: moments[i]!, to: moments[i]! + HOUR }, { by: 'source', key: 'workload', limit: 10 }));
    raw.close();
    await questions.close();
    reader.close();

    const base50 = percentile(baseline, 50);
    const base99 = percentile(baseline, 99);
    const figures: Figure[] = [
      withBaseline('write through the outlet', write, 'flows/s', 'plain inserts', plain),
      withBaseline('rewrite the same batches', rewrite, 'flows/s', 'plain inserts', plain),
      { name: 'file size per flow', value: bytesPerFlow, unit: 'bytes' },
      { name: 'first page of 100 sorted, p50', value: base50, unit: 'ms' },
      withBaseline('timeline ±15m, p50', percentile(timeline, 50), 'ms', 'first page p50', base50),
      withBaseline('timeline ±15m, p99', percentile(timeline, 99), 'ms', 'first page p99', base99),
      withBaseline('page of 100 to a namespace, p50', percentile(namespacePage, 50), 'ms', 'first page p50', base50),
      withBaseline('top-talkers src workload 1h, p50', percentile(topWorkload, 50), 'ms', 'first page p50', base50),
      withBaseline('top-talkers src workload 1h, p99', percentile(topWorkload, 99), 'ms', 'first page p99', base99),
    ];
    report('sink-embedded', figures, {
      flows: FLOWS,
      batch: BATCH,
      synchronous: 'FULL',
      warmups: WARMUPS,
      samples: { baseline: SAMPLES, timeline: SAMPLES, namespacePage: SAMPLES, topTalkers: topSamples },
      pods: ends.pods.length,
      publicAddresses: ends.internet.length,
      spanHours: SPAN / HOUR,
      meanTimelineRows: Number((timelineRows / SAMPLES).toFixed(1)),
      sqlite: sqliteVersion(),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
