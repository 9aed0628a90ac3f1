import type { BusProducer } from '../runtime/bus/bus.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { codecFor } from '../schemas/codec.js';
import type { RawFlow } from '../schemas/types.js';
import { deadLetterOfProblem } from './problems.js';
import type { FlowSource } from './source.js';

export interface CollectorOptions {
  readonly source: FlowSource;
  readonly producer: BusProducer;
  /** The node this collector runs on: the key of every message, so one node's flows stay in order. */
  readonly node: string;
  readonly flowsTopic: string;
  readonly deadLetterTopic: string;
  /** Flows per message (an Avro array of RawFlow): batches move far faster than single flows. */
  readonly flowsPerMessage?: number;
  readonly metrics: MetricsRegistry;
  /** Wall clock, for dead-letter times and flush latency only. */
  readonly now?: () => number;
}

const rawFlowCodec = codecFor('RawFlow');
const deadLetterCodec = codecFor('DeadLetter');

/**
 * Moves a source's batches onto the bus: flows as RawFlow batches keyed by node, problems as
 * dead letters; the source's position is committed only after the bus acknowledged both, so a
 * crash repeats at most the batch in flight (at-least-once). Ends when the source ends; closing
 * the source (SIGTERM) makes it flush its open interval first.
 */
export async function runCollector(options: CollectorOptions): Promise<void> {
  const { source, producer, node, flowsTopic, deadLetterTopic, metrics } = options;
  const now = options.now ?? Date.now;
  const perMessage = options.flowsPerMessage ?? 250;
  const flowsOut = metrics.counter('flowsentry_ingest_flows_total', 'Flows published, by source.');
  const messagesOut = metrics.counter('flowsentry_ingest_messages_total', 'Bus messages published, by source.');
  const problems = metrics.counter('flowsentry_ingest_problems_total', 'Input that could not be parsed, by source and reason.');
  const sourceCounts = metrics.gauge('flowsentry_ingest_source_count', "The source's own cumulative counts: drops by reason, skipped records, polls.");
  const flushSeconds = metrics.gauge('flowsentry_ingest_flush_seconds', 'Time the last batch took from the source to the bus acknowledgement.');
  const labels = { source: source.name };

  for await (const batch of source.batches()) {
    const began = now();
    const messages = [];
    for (let i = 0; i < batch.flows.length; i += perMessage) {
      const chunk = batch.flows.slice(i, i + perMessage) as RawFlow[];
      messages.push({ key: node, value: rawFlowCodec.encodeBatch(chunk) });
    }
    const letters = batch.problems.map((problem) => ({
      key: problem.location.source,
      value: deadLetterCodec.encode(deadLetterOfProblem(problem, now())),
    }));
    await Promise.all([
      messages.length > 0 ? producer.send(flowsTopic, messages) : undefined,
      letters.length > 0 ? producer.send(deadLetterTopic, letters) : undefined,
    ]);
    await source.commit(batch.position);
    flowsOut.inc(labels, batch.flows.length);
    messagesOut.inc(labels, messages.length);
    for (const problem of batch.problems) problems.inc({ ...labels, reason: problem.reason });
    flushSeconds.set((now() - began) / 1000, labels);
    for (const [count, value] of Object.entries(source.countsByName?.() ?? {})) sourceCounts.set(value, { ...labels, count });
  }
}
