/**
 * `npx tsx bench/query.ts [flows]` (or `npm run bench -- query [flows]`; default 1 000 000
 * flows): latency of the forensic questions over flows in OpenSearch. Needs OPENSEARCH_URL;
 * without it, says so and exits 0.
 *
 * - Load: generated flows as `flowDocument()`s in `_bulk` requests of 5 000 (4 in flight), into
 *   a fresh prefix whose template has refresh off, then one refresh; the figure is the time until
 *   every document is searchable. Flows are generated chunk by chunk: memory stays bounded.
 * - Questions, each one warm-up round then samples of different arguments, p50 and p99:
 *   `timeline` of a random pod in a ±15 min window around a random moment (first page of 100);
 *   `topTalkers` of sources by workload (composite, complete) and of destinations by address
 *   (terms), each sample over a different range of 24 to 48 h (so never from the request cache). Beside them, in the same run, the baseline: a plain
 *   `match_all` search of 100 hits sorted by time and flow id (the cheapest sorted search), and
 *   the ratio to it.
 *
 * Data: 400 pods (10 namespaces x 10 deployments x 4 pods, in two ReplicaSets), 1 000 public
 * addresses; 70% of flows pod to pod, 30% to the internet; 3% denied; over 48 h (two daily
 * indices), one shard, no replica. Deterministic (LCG). Indices and template are deleted after.
 */
import type { Client } from '@opensearch-project/opensearch';
import { flowDocument, sourceOf, indexPatternOf, type IndexNaming } from '../sink/opensearch/documents.js';
import { indexTemplateOf, templateNameOf } from '../sink/opensearch/index-templates.js';
import { openSearchClient, openSearchConnectionFromEnv } from '../sink/opensearch/opensearch-client.js';
import { OpenSearchFlowStore } from '../sink/query/opensearch-flow-store.js';
import { flowSort } from '../sink/query/opensearch-query.js';
import { enrichedFlow } from '../test/support/enriched-flows.js';
import { median, random } from './measure.js';
import { report, withBaseline, type Figure } from './report.js';
import { cluster, percentile, SPAN, START, timed, WINDOW } from './support/query-cluster.js';

const FLOWS = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 1_000_000);
const CHUNK = 5_000;
const IN_FLIGHT = 4;
const WARMUPS = 5;
const SAMPLES = 100;


/** The bulk body of flows [from, from + count), as NDJSON. */
function chunkBody(from: number, count: number, ends: ReturnType<typeof cluster>, naming: IndexNaming): string {
  const next = random(1_000 + from);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const ports = [80, 443, 5432, 6379, 8080, 53, 22, 9090];
  const lines: string[] = [];
  for (let i = from; i < from + count; i++) {
    const source = pick(ends.pods);
    const dest = next() < 0.7 ? pick(ends.pods) : pick(ends.internet);
    const flow = enrichedFlow(source, dest, {
      at: START + Math.floor((i / FLOWS) * SPAN) + Math.floor(next() * 1_000),
      port: pick(ports),
      sourcePort: 30_000 + Math.floor(next() * 30_000),
      action: next() < 0.03 ? 'deny' : 'allow',
      packets: 1 + Math.floor(next() * 200),
      bytesOut: Math.floor(next() * 100_000),
    });
    const document = flowDocument(flow, naming);
    lines.push(JSON.stringify({ index: { _index: document.index, _id: document.id } }), sourceOf(document));
  }
  return `${lines.join('\n')}\n`;
}

async function load(client: Client, naming: IndexNaming, ends: ReturnType<typeof cluster>): Promise<number> {
  await client.indices.putIndexTemplate({
    name: templateNameOf('flow', naming),
    body: indexTemplateOf('flow', { shards: 1, replicas: 0, refreshInterval: '-1' }, naming) as never,
  });
  const started = performance.now();
  let nextChunk = 0;
  const worker = async () => {
    for (;;) {
      const from = nextChunk;
      nextChunk += CHUNK;
      if (from >= FLOWS) return;
      const response = await client.bulk({ body: chunkBody(from, Math.min(CHUNK, FLOWS - from), ends, naming) as never });
      if (response.body.errors) throw new Error(`bulk: ${JSON.stringify(response.body.items.find((item) => Object.values(item)[0]?.error))}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await client.indices.refresh({ index: indexPatternOf('flow', naming) });
  const seconds = (performance.now() - started) / 1000;
  const count = await client.count({ index: indexPatternOf('flow', naming) });
  if (count.body.count !== FLOWS) throw new Error(`loaded ${count.body.count} flows, expected ${FLOWS}`);
  return seconds;
}

async function main(): Promise<void> {
  const connection = openSearchConnectionFromEnv();
  if (!connection) {
    console.log('query: skipped, OPENSEARCH_URL is not set (eval "$(npm run -s services -- env)" first)');
    return;
  }
  const client = openSearchClient({ ...connection, requestTimeoutMs: 300_000 });
  const naming: IndexNaming = { prefix: `bench-query-${Date.now().toString(36)}` };
  const ends = cluster();
  const store = new OpenSearchFlowStore({ client, naming, ownsClient: false });
  try {
    const loadSeconds = await load(client, naming, ends);
    const next = random(99);
    const pods = Array.from({ length: SAMPLES + WARMUPS }, () => ends.pods[Math.floor(next() * ends.pods.length)]!);
    const moments = Array.from({ length: SAMPLES + WARMUPS }, () => START + WINDOW + Math.floor(next() * (SPAN - 2 * WINDOW)));
    let timelineRows = 0;

    const baseline = await timed(SAMPLES, WARMUPS, () =>
      client.search({ index: indexPatternOf('flow', naming), body: { size: 100, track_total_hits: false, query: { match_all: {} }, sort: flowSort } as never }),
    );
    const timeline = await timed(SAMPLES, WARMUPS, async (i) => {
      const pod = pods[i]!;
      const page = await store.timeline({ pod: { namespace: pod.namespace!, name: pod.name! }, at: moments[i]!, before: WINDOW, after: WINDOW }, { limit: 100 });
      timelineRows += page.flows.length;
    });
    const topSamples = SAMPLES / 5;
    // Each sample a different range (the last 24 to 48 h, by the minute): no answer comes from the shard request cache.
    const range = (i: number) => ({ from: START + i * 60_000 });
    const topWorkload = await timed(topSamples, WARMUPS, (i) => store.topTalkers(range(i), { by: 'source', key: 'workload', limit: 10 }));
    const topIp = await timed(topSamples, WARMUPS, (i) => store.topTalkers(range(i + 1_000), { by: 'dest', key: 'ip', limit: 10 }));

    const base50 = percentile(baseline, 50);
    const base99 = percentile(baseline, 99);
    const label = `${FLOWS / 1e6}M`;
    const figures: Figure[] = [
      { name: `load ${label} flows (bulk + refresh)`, value: loadSeconds, unit: 's' },
      { name: 'load rate', value: FLOWS / loadSeconds, unit: 'flows/s' },
      { name: 'match_all 100 sorted, p50', value: base50, unit: 'ms' },
      { name: 'match_all 100 sorted, p99', value: base99, unit: 'ms' },
      withBaseline('timeline ±15m, p50', percentile(timeline, 50), 'ms', 'match_all p50', base50),
      withBaseline('timeline ±15m, p99', percentile(timeline, 99), 'ms', 'match_all p99', base99),
      withBaseline('top-talkers src workload, p50', percentile(topWorkload, 50), 'ms', 'match_all p50', base50),
      withBaseline('top-talkers src workload, p99', percentile(topWorkload, 99), 'ms', 'match_all p99', base99),
      withBaseline('top-talkers dest ip, p50', percentile(topIp, 50), 'ms', 'match_all p50', base50),
      withBaseline('top-talkers dest ip, p99', percentile(topIp, 99), 'ms', 'match_all p99', base99),
    ];
    report('query', figures, {
      flows: FLOWS,
      chunk: CHUNK,
      inFlight: IN_FLIGHT,
      warmups: WARMUPS,
      samples: { baseline: SAMPLES, timeline: SAMPLES, topTalkers: topSamples },
      pods: ends.pods.length,
      publicAddresses: ends.internet.length,
      spanHours: SPAN / 3_600_000,
      meanTimelineRows: Number((timelineRows / SAMPLES).toFixed(1)),
      medianTimelineMs: Number(median(timeline).toFixed(2)),
      opensearch: ((await client.info()).body as { version: { number: string } }).version.number,
    });
  } finally {
    await client.indices.delete({ index: indexPatternOf('flow', naming) }, { ignore: [404] });
    await client.indices.deleteIndexTemplate({ name: templateNameOf('flow', naming) }, { ignore: [404] });
    await client.close();
  }
}

await main();
