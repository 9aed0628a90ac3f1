import { hostname } from 'node:os';
import type { Bus, BusConsumer, BusProducer, IncomingBatch, OutgoingMessage } from '../runtime/bus/bus.js';
import { delay, Signal } from '../runtime/bus/signal.js';
import type { MetricsRegistry } from '../runtime/metrics.js';
import { deadLetterOf, StageRunner, type StageOutput } from '../runtime/stage-runner.js';
import { topics as defaultTopics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { EnrichedFlow } from '../schemas/types.js';
import { EnrichCore, type EnrichCoreOptions } from './enrich-core.js';

export interface EnrichWorkerOptions extends EnrichCoreOptions {
  readonly bus: Bus;
  readonly metrics: MetricsRegistry;
  /** Consumer group of the flow input; workers of one group share the partitions. Default `flowsentry-enrich`. */
  readonly groupId?: string;
  readonly topics?: Partial<Record<WorkerTopic, string>>;
  /** Longest the start waits for the inventory to be read up to its end. Default 5 minutes. */
  readonly restoreTimeoutMs?: number;
  /** How long an address that stayed unknown after a full grace is not waited for again. Default 30 s. */
  readonly unknownTtlMs?: number;
  readonly maxBatchMessages?: number;
  /** Wall clock, for waits and dead-letter times only: enrichment itself runs on event time. */
  readonly now?: () => number;
}

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
 * A flow with an address in the cluster ranges that the table does not know yet waits until the
 * inventory has caught up past the flow's end plus the grace, or the grace has passed on the
 * wall clock, whichever comes first; then it goes out, marked `unknown` if still unknown. The
 * wait holds the partition's batch (bounded by the grace), so the input offset is committed
 * only after the enriched records were acknowledged.
 */
export class EnrichWorker {
  readonly core: EnrichCore;
  private readonly topics: Record<WorkerTopic, string>;
  private readonly inventoryChanged = new Signal();
  private inventoryConsumer: BusConsumer | undefined;
  private inventoryProducer: BusProducer | undefined;
  private runner: StageRunner | undefined;
  private readonly positions = new Map<number, number>();
  private readonly recentlyUnknown = new Map<string, number>();
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
      waits: m.counter('flowsentry_enrich_waits_total', 'Messages held for the inventory to catch up, by how the wait ended.'),
      waitSeconds: m.counter('flowsentry_enrich_wait_seconds_total', 'Time spent holding messages for the inventory.'),
      table: m.gauge('flowsentry_enrich_identity_table', 'Size of the identity table: objects, addresses, claims; and conflicts, reordered events.'),
    };
  }

  /** Reads the inventory to its end, then starts taking flows. */
  async start(): Promise<void> {
    const { bus } = this.options;
    if (!bus.endOffsets) throw new Error(`the ${bus.kind} bus cannot tell where the inventory topic ends; run enrich on Kafka or the in-process bus`);
    const ends = await bus.endOffsets(this.topics.inventory);
    this.inventoryProducer = bus.producer();
    this.inventoryConsumer = bus.consumer({
      groupId: `flowsentry-enrich-inventory-${hostname()}-${process.pid}-${this.now().toString(36)}`,
      topics: [this.topics.inventory],
      fromBeginning: true,
    });
    await this.inventoryConsumer.start((batch) => this.applyInventory(batch));
    const caughtUp = () => [...ends].every(([partition, end]) => (this.positions.get(partition) ?? -1) + 1 >= Number(end));
    const deadline = this.now() + (this.options.restoreTimeoutMs ?? 300_000);
    while (!caughtUp()) {
      if (this.now() > deadline) throw new Error(`the inventory topic ${this.topics.inventory} was not read to its end within the restore timeout`);
      await Promise.race([this.inventoryChanged.wait(), delay(200)]);
    }
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

  async close(): Promise<void> {
    await this.runner?.close();
    await this.inventoryConsumer?.close();
    await this.inventoryProducer?.close();
  }

  private async applyInventory(batch: IncomingBatch): Promise<void> {
    const letters: OutgoingMessage[] = [];
    for (const message of batch.messages) {
      try {
        for (const event of inventoryEvents.decodeAll(message.value)) this.core.applyInventory(event);
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
    this.inventoryChanged.notify();
  }

  private async enrichMessage(value: Buffer): Promise<StageOutput[]> {
    const flows = rawFlows.decodeAll(value);
    const records = this.core.enrichEach(flows);
    const now = this.now();
    const awaited = [...this.core.unknownAddresses(records)].filter((ip) => !((this.recentlyUnknown.get(ip) ?? 0) > now));
    if (awaited.length > 0) {
      await this.waitForInventory(flows);
      records.forEach((record, index) => {
        if (record.source_resolution === 'unknown' || record.dest_resolution === 'unknown') records[index] = this.core.enrichEach([flows[index]!])[0]!;
      });
      this.rememberUnknown(records);
    }
    const out = this.core.finish(records);
    const ends = this.core.stats.ends;
    for (const [resolution, count] of Object.entries(ends)) this.metrics.ends.set(count, { resolution });
    return enrichedMessages(this.topics.flowsEnriched, out);
  }

  private async waitForInventory(flows: readonly { end_time: number }[]): Promise<void> {
    const until = Math.max(...flows.map((flow) => flow.end_time)) + this.core.graceMs;
    const started = this.now();
    const deadline = started + this.core.graceMs;
    let outcome = 'grace-passed';
    while (this.now() < deadline) {
      if (this.core.table.inventoryTime >= until) {
        outcome = 'inventory-caught-up';
        break;
      }
      await Promise.race([this.inventoryChanged.wait(), delay(Math.max(1, deadline - this.now()))]);
    }
    this.metrics.waits.inc({ outcome });
    this.metrics.waitSeconds.inc({}, (this.now() - started) / 1000);
  }

  /** Addresses that stayed unknown after a full grace are not waited for again for a while. */
  private rememberUnknown(flows: readonly EnrichedFlow[]): void {
    const until = this.now() + (this.options.unknownTtlMs ?? 30_000);
    for (const flow of flows) {
      if (flow.source_resolution === 'unknown' && flow.source_ip) this.recentlyUnknown.set(flow.source_ip, until);
      if (flow.dest_resolution === 'unknown' && flow.dest_ip) this.recentlyUnknown.set(flow.dest_ip, until);
    }
    if (this.recentlyUnknown.size > 100_000) {
      const now = this.now();
      for (const [ip, expiry] of this.recentlyUnknown) if (expiry < now) this.recentlyUnknown.delete(ip);
    }
  }

  private publishTableStats(): void {
    const stats = this.core.table.stats;
    for (const what of ['objects', 'addresses', 'claims', 'conflicts', 'reordered'] as const) this.metrics.table.set(stats[what], { what });
  }
}
