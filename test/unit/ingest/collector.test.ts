import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCollector } from '../../../ingest/collector.js';
import { IngestError, problemOf } from '../../../ingest/problems.js';
import type { FlowSource, SourceBatch } from '../../../ingest/source.js';
import type { BusProducer, OutgoingMessage } from '../../../runtime/bus/bus.js';
import { MetricsRegistry } from '../../../runtime/metrics.js';
import { codecFor } from '../../../schemas/codec.js';
import { sampleRawFlow } from '../../../schemas/samples.js';

const flow = (port: number) => ({ ...sampleRawFlow, origin: 'conntrack' as const, source_port: port });

/** A source over fixed batches that records what was committed. */
function arraySource(batches: SourceBatch<number>[]): FlowSource<number> & { committed: number[] } {
  const committed: number[] = [];
  return {
    name: 'fixed',
    committed,
    async *batches() {
      yield* batches;
    },
    async commit(position) {
      committed.push(position);
    },
    async close() {},
    countsByName: () => ({ skipped_nodata: 3, dropped_overflow: 1 }),
  };
}

/** A producer that records sends, and the order of sends and commits. */
function recordingProducer(events: string[]): BusProducer & { sent: Map<string, OutgoingMessage[]> } {
  const sent = new Map<string, OutgoingMessage[]>();
  return {
    sent,
    async send(topic, messages) {
      await new Promise((resolveTick) => setImmediate(resolveTick));
      sent.set(topic, [...(sent.get(topic) ?? []), ...messages]);
      events.push(`send ${topic}`);
    },
    async close() {},
  };
}

describe('Ingest > collector', () => {
  it('publishes flows as RawFlow batches keyed by node, problems as dead letters, and commits after both', async () => {
    const events: string[] = [];
    const bad = problemOf({ source: 'flows.log', line: 2 }, 'garbage', new IngestError('INGEST_BAD_LINE', 'expected 24 fields, found 1'));
    const source = arraySource([
      { flows: [flow(1), flow(2), flow(3)], problems: [bad], position: 1 },
      { flows: [flow(4)], problems: [], position: 2 },
    ]);
    const commit = source.commit.bind(source);
    source.commit = async (position) => {
      events.push(`commit ${position}`);
      await commit(position);
    };
    const producer = recordingProducer(events);
    const metrics = new MetricsRegistry();
    await runCollector({ source, producer, node: 'node-a', flowsTopic: 'raw', deadLetterTopic: 'dead', flowsPerMessage: 2, metrics, now: () => 42 });

    const raw = producer.sent.get('raw') ?? [];
    assert.deepEqual(raw.map((message) => message.key), ['node-a', 'node-a', 'node-a']);
    const ports = raw.flatMap((message) => codecFor('RawFlow').decodeBatch(message.value).map((decoded) => decoded.source_port));
    assert.deepEqual(ports, [1, 2, 3, 4]);

    const [letter] = (producer.sent.get('dead') ?? []).map((message) => codecFor('DeadLetter').decode(message.value));
    assert.equal(letter?.reason, 'INGEST_BAD_LINE');
    assert.equal(letter?.source.file, 'flows.log');
    assert.equal(letter?.source.line, 2);
    assert.equal(letter?.message, 'flows.log:2: expected 24 fields, found 1');
    assert.equal(Buffer.from(letter!.original).toString(), 'garbage');

    assert.deepEqual(source.committed, [1, 2]);
    assert.deepEqual(events, ['send raw', 'send dead', 'commit 1', 'send raw', 'commit 2'], 'each commit after its sends');
    assert.equal(metrics.counter('flowsentry_ingest_flows_total', '').get({ source: 'fixed' }), 4);
    assert.equal(metrics.counter('flowsentry_ingest_problems_total', '').get({ source: 'fixed', reason: 'INGEST_BAD_LINE' }), 1);
    assert.equal(metrics.gauge('flowsentry_ingest_source_count', '').get({ source: 'fixed', count: 'dropped_overflow' }), 1);
    assert.equal(metrics.gauge('flowsentry_ingest_source_count', '').get({ source: 'fixed', count: 'skipped_nodata' }), 3);
  });

  it('does not commit a batch whose send failed', async () => {
    const source = arraySource([{ flows: [flow(1)], problems: [], position: 1 }]);
    const producer: BusProducer = {
      send: async () => {
        throw new Error('broker down');
      },
      close: async () => undefined,
    };
    await assert.rejects(
      runCollector({ source, producer, node: 'n', flowsTopic: 'raw', deadLetterTopic: 'dead', metrics: new MetricsRegistry() }),
      /broker down/,
    );
    assert.deepEqual(source.committed, []);
  });
});
