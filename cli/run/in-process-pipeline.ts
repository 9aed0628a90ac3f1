/**
 * Every stage in one process, on the in-process bus: the embedded default of `flowsentry run`.
 * The stages are the very workers that run as separate processes on Kafka (collector, enrich,
 * detect, respond, sink), wired to a MemoryBus, which keeps Kafka's semantics: partitions,
 * committed positions per group, redelivery, and producers that wait while a group lags
 * (bounded memory, backpressure from the slowest stage back to the source).
 */
import { runCollector } from '../../ingest/collector.js';
import type { FlowSource } from '../../ingest/source.js';
import type { EnrichCoreOptions } from '../../enrich/enrich-core.js';
import { EnrichWorker } from '../../enrich/enrich-worker.js';
import type { DetectOptions } from '../../detect/detect-core.js';
import { DetectWorker } from '../../detect/detect-worker.js';
import type { FeedMatcher } from '../../detect/detectors/ioc-detector.js';
import type { AlertNotifier } from '../../detect/notify/alert-notifier.js';
import { RespondWorker, type AlertResponder } from '../../detect/respond-worker.js';
import type { BusConsumer } from '../../runtime/bus/bus.js';
import { MemoryBus } from '../../runtime/bus/memory-bus.js';
import type { MetricsRegistry } from '../../runtime/metrics.js';
import { topics, topicSpecs } from '../../runtime/topics.js';
import { codecFor } from '../../schemas/codec.js';
import type { Alert, InventoryEvent, ResponseAction } from '../../schemas/types.js';
import type { Outlet } from '../../sink/outlet.js';
import { SinkWorker } from '../../sink/sink-worker.js';

export interface InProcessPipelineOptions {
  readonly source: FlowSource;
  /** The collector's node: the key of its messages. */
  readonly node: string;
  /** Inventory events written to the compacted inventory topic before enrich starts (a recorded or demo inventory). */
  readonly inventory?: readonly InventoryEvent[];
  readonly enrich?: EnrichCoreOptions;
  readonly detect?: DetectOptions;
  readonly feeds?: () => FeedMatcher | undefined;
  /** Notifies on-call; none by default. */
  readonly notifier?: AlertNotifier;
  readonly responder?: AlertResponder;
  readonly outlets: readonly Outlet[];
  readonly metrics: MetricsRegistry;
  /** Partitions of every topic (default 2: enough for the stages to overlap on 2 cores). */
  readonly partitions?: number;
  /** Sees every alert revision and response action, once each, as the stages write them. */
  readonly onAlert?: (alert: Alert) => void;
  readonly onAction?: (action: ResponseAction) => void;
}

const inventoryCodec = codecFor('InventoryEvent');
const alertCodec = codecFor('Alert');
const actionCodec = codecFor('ResponseAction');

const silentNotifier: AlertNotifier = { notify: () => undefined, notifyAction: () => undefined, drain: async () => undefined, close: async () => undefined };

/** The topics whose every message a stage must have committed before the pipeline is idle. */
const stageInputs = [topics.flowsRaw, topics.flowsEnriched, topics.alerts, topics.actions] as const;

/**
 * Messages kept per partition, and how far a stage may lag before the stage feeding it waits: the
 * bound on the bus's memory (a few thousand batches of flows), whatever the run's length.
 */
const busBounds = { retainedMessagesPerPartition: 2_000, maxLagPerPartition: 1_000 } as const;

/** Thrown by idle() when stages have work and commit nothing for this long: one is failing (see its log lines). */
export class PipelineStalledError extends Error {
  override readonly name = 'PipelineStalledError';
  readonly code = 'RUN_STALLED';
}

export class InProcessPipeline {
  readonly bus = new MemoryBus(busBounds);
  private readonly enrich: EnrichWorker;
  private readonly detect: DetectWorker;
  private readonly respond: RespondWorker;
  private readonly sink: SinkWorker;
  private watcher: BusConsumer | undefined;
  private started = false;

  constructor(private readonly options: InProcessPipelineOptions) {
    const { bus } = this;
    const { metrics } = options;
    this.enrich = new EnrichWorker({ ...options.enrich, bus, metrics });
    this.detect = new DetectWorker({ ...options.detect, bus, metrics, ...(options.feeds ? { feeds: options.feeds } : {}) });
    this.respond = new RespondWorker({ bus, metrics, notifier: () => options.notifier ?? silentNotifier, ...(options.responder ? { responder: options.responder } : {}) });
    this.sink = new SinkWorker({ bus, metrics, outlets: options.outlets, members: 1 });
  }

  /** Creates the topics, writes the inventory, starts every stage after the collector. */
  async start(): Promise<void> {
    const { bus } = this;
    await bus.ensureTopics(topicSpecs(this.options.partitions ?? 2));
    const inventory = this.options.inventory ?? [];
    if (inventory.length > 0) await bus.producer().send(topics.inventory, inventory.map((event) => ({ key: event.uid, value: inventoryCodec.encode(event) })));
    await this.enrich.start();
    await this.detect.start();
    await this.respond.start();
    await this.sink.start();
    if (this.options.onAlert || this.options.onAction) {
      this.watcher = bus.consumer({ groupId: 'flowsentry-run-report', topics: [topics.alerts, topics.actions] });
      await this.watcher.start(async (batch) => {
        for (const message of batch.messages) {
          if (message.topic === topics.alerts) for (const alert of alertCodec.decodeAll(message.value)) this.options.onAlert?.(alert);
          else for (const action of actionCodec.decodeAll(message.value)) this.options.onAction?.(action);
        }
      });
    }
    this.started = true;
  }

  /** Runs the collector until the source ends (or is closed). */
  async collect(): Promise<void> {
    const producer = this.bus.producer();
    try {
      await runCollector({ source: this.options.source, producer, node: this.options.node, flowsTopic: topics.flowsRaw, deadLetterTopic: topics.deadLetters, metrics: this.options.metrics });
    } finally {
      await producer.close();
    }
  }

  /** Messages on the stages' input topics that some stage has not committed yet. */
  async backlog(): Promise<number> {
    let total = 0;
    for (const topic of stageInputs) {
      const ends = await this.bus.endOffsets(topic);
      for (const partition of ends.keys()) total += this.bus.lag(topic, partition);
    }
    return total;
  }

  /**
   * Resolves once every stage has committed everything written so far (twice in a row, so work a
   * stage was about to write counts). Rejects with PipelineStalledError when the backlog stays
   * the same, and above zero, for `stallMs`: a stage keeps failing its batch (a store that refuses
   * every write), and waiting longer would only hide it.
   */
  async idle(options: { pollMs?: number; stallMs?: number } = {}): Promise<void> {
    const pollMs = options.pollMs ?? 50;
    const stallMs = options.stallMs ?? 60_000;
    let quiet = 0;
    let last = { backlog: -1, since: Date.now() };
    while (quiet < 2) {
      const backlog = await this.backlog();
      quiet = backlog === 0 ? quiet + 1 : 0;
      if (backlog !== last.backlog) last = { backlog, since: Date.now() };
      else if (backlog > 0 && Date.now() - last.since >= stallMs) {
        throw new PipelineStalledError(`no stage committed anything for ${Math.round(stallMs / 1000)} s with ${backlog} messages waiting: a stage is failing its batches (see the bus warnings)`);
      }
      if (quiet < 2) await new Promise((resolveWait) => setTimeout(resolveWait, pollMs));
    }
  }

  /** Closes the source, then the stages in the order data flows (each finishes and commits its batch in hand), then the bus. */
  async close(): Promise<void> {
    await this.options.source.close();
    if (this.started) {
      await this.enrich.close();
      await this.detect.close();
      await this.respond.close();
      await this.sink.close();
      await this.watcher?.close();
    }
    await this.bus.close();
  }
}
