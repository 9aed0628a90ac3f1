import { hostname } from 'node:os';
import type { Bus, BusConsumer, BusProducer, IncomingBatch, OutgoingMessage } from '../runtime/bus/bus.js';
import { delay } from '../runtime/bus/signal.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { deadLetterOf, StageRunner, type StageOutput } from '../runtime/stage-runner.js';
import { topics as defaultTopics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { EnrichedFlow } from '../schemas/types.js';
import { EnrichCore, latestEnd, type EnrichCoreOptions } from './enrich-core.js';

export interface EnrichWorkerOptions extends EnrichCoreOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  /** Consumer group of the flow input; workers of one group share the partitions. Default `flowsentry-enrich`. */
  readonly groupId?: string;
  readonly topics?: Partial<Record<WorkerTopic, string>>;
  /** Longest the start waits for the inventory to be read up to its end. Default 5 minutes. */
  readonly restoreTimeoutMs?: number;
  readonly maxBatchMessages?: number;
  /** Wall clock, for waits and dead-letter times only: enrichment itself runs on event time. */
  readonly now?: () => number;
}

/** How often a held message, or the restore, looks at the inventory again. */
const holdPollMs = 50;

type WorkerTopic = 'flowsRaw' | 'inventory' | 'flowsEnriched' | 'deadLetters';

const rawFlows = codecFor('RawFlow');
const enrichedFlows = codecFor('EnrichedFlow');
const inventoryEvents = codecFor('InventoryEvent');
const deadLetters = codecFor('DeadLetter');

/** The output key: the source workload, so one workload's flows stay in order on one partition. */
export function enrichedKey(flow: EnrichedFlow): string {
  return `${flow.source_namespace ?? '-'}/${flow.source_workload ?? flow.source_name_aggr}`;
}

/** Enriched flows as messages: one batch per source workload. */
export function enrichedMessages(topic: string, flows: readonly EnrichedFlow[]): StageOutput[] {
  const byKey = new Map<string, EnrichedFlow[]>();
  for (const flow of flows) {
    const key = enrichedKey(flow);
    const list = byKey.get(key);
    if (list) list.push(flow);
    else byKey.set(key, [flow]);
  }
  return [...byKey].map(([key, group]) => ({ topic, key, value: enrichedFlows.encodeBatch(group) }));
}

/**
 * The enrich stage on the bus. On start it reads the whole compacted inventory topic into the
 * identity table (every worker keeps the whole table: a flow may name any address) and only
 * then takes flows. It keeps following the inventory while it enriches.
 *
 * Each message is held until the grace after its flows' end has passed (see `holdForInventory`),
 * so that what the inventory learns a little late still counts; an address still unknown then
 * goes out marked `unknown`. The input offset is committed only after the enriched records were
 * acknowledged.
 */
export class EnrichWorker {
  readonly core: EnrichCore;
  private readonly topics: Record<WorkerTopic, string>;
  private inventoryConsumer: BusConsumer | undefined;
  private inventoryProducer: BusProducer | undefined;
  private runner: StageRunner | undefined;
  private readonly positions = new Map<number, number>();
  /** Per inventory partition, the latest observed time it delivered. */
  private readonly partitionTimes = new Map<number, number>();
  private closing = false;
  private statsPublishedAt = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;
  private readonly metrics;

  constructor(private readonly options: EnrichWorkerOptions) {
    this.core = new EnrichCore(options);
    this.topics = {
      flowsRaw: options.topics?.flowsRaw ?? defaultTopics.flowsRaw,
      inventory: options.topics?.inventory ?? defaultTopics.inventory,
      flowsEnriched: options.topics?.flowsEnriched ?? defaultTopics.flowsEnriched,
      deadLetters: options.topics?.deadLetters ?? defaultTopics.deadLetters,
    };
    this.now = options.now ?? Date.now;
    const m = options.metrics;
    this.metrics = {
      inventory: m.counter('flowsentry_enrich_inventory_events_total', 'Inventory events applied to the identity table, by outcome.'),
      ends: m.gauge('flowsentry_enrich_flow_ends', 'Flow ends enriched since start, by how their identity was found (reported, inventory, network, unknown).'),
      waits: m.counter('flowsentry_enrich_waits_total', 'Messages held until the grace after their flows had passed, by how the wait ended.'),
      waitSeconds: m.counter('flowsentry_enrich_wait_seconds_total', 'Time spent holding messages for the inventory.'),
      table: m.gauge('flowsentry_enrich_identity_table', 'Size of the identity table: objects, addresses, claims; and conflicts, reordered events.'),
    };
  }

  /** Reads the inventory to its end, then starts taking flows. */
  async start(): Promise<void> {
    const { bus } = this.options;
    if (!bus.endOffsets) throw new Error(`the ${bus.kind} bus cannot tell where the inventory topic ends; run enrich on Kafka or the in-process bus`);
    const ends = await bus.endOffsets(this.topics.inventory);
    if (this.closing) return;
    for (const partition of ends.keys()) this.partitionTimes.set(partition, Number.NEGATIVE_INFINITY);
    this.inventoryProducer = bus.producer();
    this.inventoryConsumer = bus.consumer({
      groupId: `flowsentry-enrich-inventory-${hostname()}-${process.pid}-${this.now().toString(36)}`,
      topics: [this.topics.inventory],
      fromBeginning: true,
    });
    await this.inventoryConsumer.start((batch) => this.applyInventory(batch));
    if (this.closing) {
      await this.inventoryConsumer.close();
      return;
    }
    // A partition is read when its last message was handled, or when it keeps none (compacted or deleted away).
    const caughtUp = () => [...ends].every(([partition, { first, end }]) => first === end || (this.positions.get(partition) ?? -1) + 1 >= Number(end));
    const deadline = this.now() + (this.options.restoreTimeoutMs ?? 300_000);
    while (!caughtUp()) {
      if (this.closing) return;
      if (this.now() > deadline) throw new Error(`the inventory topic ${this.topics.inventory} was not read to its end within the restore timeout`);
      await delay(holdPollMs);
    }
    if (this.closing) return;
    this.runner = new StageRunner({
      stage: 'enrich',
      bus,
      groupId: this.options.groupId ?? 'flowsentry-enrich',
      inputTopics: [this.topics.flowsRaw],
      deadLetterTopic: this.topics.deadLetters,
      handler: (message) => this.enrichMessage(message.value),
      recordType: 'RawFlow',
      metrics: this.options.metrics,
      ...(this.options.maxBatchMessages ? { maxBatchMessages: this.options.maxBatchMessages } : {}),
      now: this.now,
    });
    await this.runner.start();
  }

  /** Stops taking flows and inventory; a start still reading the inventory gives up. */
  async close(): Promise<void> {
    this.closing = true;
    await this.runner?.close();
    await this.inventoryConsumer?.close();
    await this.inventoryProducer?.close();
  }

  private async applyInventory(batch: IncomingBatch): Promise<void> {
    const letters: OutgoingMessage[] = [];
    for (const message of batch.messages) {
      if (message.value.length === 0) {
        // A tombstone: the publisher removed the object's key after its DELETED; nothing to apply.
        this.metrics.inventory.inc({ outcome: 'tombstone' });
        continue;
      }
      try {
        for (const event of inventoryEvents.decodeAll(message.value)) {
          this.core.applyInventory(event);
          if (event.observed_time > (this.partitionTimes.get(batch.partition) ?? Number.NEGATIVE_INFINITY)) this.partitionTimes.set(batch.partition, event.observed_time);
        }
        this.metrics.inventory.inc({ outcome: 'applied' });
      } catch (error) {
        const letter = deadLetterOf('enrich', message, error, this.now(), 'InventoryEvent');
        letters.push({ key: `${message.topic}/${message.partition}`, value: deadLetters.encode(letter) });
        this.metrics.inventory.inc({ outcome: 'dead-letter' });
      }
    }
    if (letters.length > 0) await this.inventoryProducer!.send(this.topics.deadLetters, letters);
    const last = batch.messages[batch.messages.length - 1];
    if (last) this.positions.set(batch.partition, Number(last.offset));
    this.publishTableStats();
  }

  private async enrichMessage(value: Buffer): Promise<StageOutput[]> {
    const flows = rawFlows.decodeAll(value);
    await this.holdForInventory(flows);
    const out = this.core.enrich(flows);
    for (const [resolution, count] of Object.entries(this.core.endCounts)) this.metrics.ends.set(count, { resolution });
    return enrichedMessages(this.topics.flowsEnriched, out);
  }

  /**
   * A message is enriched no earlier than its latest flow end plus the grace, on the wall clock,
   * or once the inventory has shown events that late: by then the inventory has what changed up
   * to the flows' end (a late DELETED, the ADDED of a pod that took the address). A message older
   * than that (a consumer catching up) goes straight through, and none waits more than the grace
   * after it arrived, so a node clock running ahead cannot stall the stage. Deadlines are absolute:
   * the messages of one batch do not add their waits up.
   */
  private async holdForInventory(flows: readonly { end_time: number }[]): Promise<void> {
    const flowsEnd = latestEnd(flows);
    const settled = flowsEnd + this.core.graceMs;
    const arrived = this.now();
    if (!(settled > arrived) || this.inventoryWatermark() >= settled) return;
    if (flowsEnd > arrived + this.core.graceMs) {
      // The node's clock runs ahead: holding such messages would only add their waits up.
      this.metrics.waits.inc({ outcome: 'clock-ahead' });
      return;
    }
    let outcome = 'grace-passed';
    while (this.now() < settled) {
      if (this.inventoryWatermark() >= settled || this.closing) {
        outcome = this.closing ? 'closing' : 'inventory-caught-up';
        break;
      }
      // Polls rather than waits on the inventory signal: a quiet inventory leaves no waiters behind.
      await delay(Math.min(holdPollMs, Math.max(1, settled - this.now())));
    }
    this.metrics.waits.inc({ outcome });
    this.metrics.waitSeconds.inc({}, (this.now() - arrived) / 1000);
  }

  /**
   * How far the inventory has surely been read: the least of all its partitions' latest observed
   * times, so one event from a partition that runs ahead (or a skewed clock) does not end holds.
   * A partition that never delivered keeps it at minus infinity: holds then run their full grace.
   */
  private inventoryWatermark(): number {
    let least = Number.POSITIVE_INFINITY;
    for (const time of this.partitionTimes.values()) if (time < least) least = time;
    return this.partitionTimes.size === 0 ? Number.NEGATIVE_INFINITY : least;
  }

  /** At most once a second: the table's stats walk every object. */
  private publishTableStats(): void {
    const now = this.now();
    if (now - this.statsPublishedAt < 1_000) return;
    this.statsPublishedAt = now;
    const stats = this.core.table.stats;
    for (const what of ['objects', 'addresses', 'claims', 'conflicts', 'reordered'] as const) this.metrics.table.set(stats[what], { what });
  }
}
