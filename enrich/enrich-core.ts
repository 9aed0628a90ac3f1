import type { EnrichedFlow, InventoryEvent, RawFlow } from '../schemas/types.js';
import { aggregateFlows, defaultAggregationLevels, type AggregationLevels } from './aggregation.js';
import { Enricher, type EnricherOptions, type EnricherStats } from './enricher.js';
import { IdentityTable, type IdentityTableStats } from './identity-table.js';

export interface EnrichCoreOptions extends EnricherOptions {
  /** How long a flow may wait for the inventory to show an address, milliseconds. Default 2 s. */
  readonly graceMs?: number;
  readonly levels?: AggregationLevels;
  /** How long ended claims are kept, milliseconds. Default one hour. */
  readonly retentionMs?: number;
}

export const defaultGraceMs = 2_000;

/**
 * The enrich stage's pure core: the identity table, the join, and output aggregation. The live
 * worker and the file replay drive the same core; only how they wait for the inventory differs.
 */
export class EnrichCore {
  readonly table: IdentityTable;
  readonly graceMs: number;
  private readonly enricher: Enricher;
  private readonly levels: AggregationLevels;
  private lastExpiry = Number.NEGATIVE_INFINITY;
  private readonly retentionMs: number;

  constructor(options: EnrichCoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? 3_600_000;
    this.table = new IdentityTable({ retentionMs: this.retentionMs });
    this.enricher = new Enricher(this.table, options);
    this.graceMs = options.graceMs ?? defaultGraceMs;
    this.levels = options.levels ?? defaultAggregationLevels;
  }

  applyInventory(event: InventoryEvent): void {
    this.table.apply(event);
  }

  /** True when some flow has an address the inventory should know but does not yet. */
  awaitsInventory(flows: readonly RawFlow[]): boolean {
    return flows.some((flow) => this.enricher.awaitsInventory(flow));
  }

  /** The addresses of `flows` that the inventory should know but does not (yet). */
  awaitedAddresses(flows: readonly RawFlow[]): Set<string> {
    const addresses = new Set<string>();
    for (const flow of flows) this.enricher.addAwaitedAddresses(flow, addresses);
    return addresses;
  }

  /**
   * Enriches flows and aggregates them by level. `waited` says whether the caller gave the
   * inventory its grace: only then do objects seen up to the grace after a flow count for it.
   */
  enrich(flows: readonly RawFlow[], waited = true): EnrichedFlow[] {
    const lookahead = waited ? this.graceMs : 0;
    const enriched = flows.map((flow) => this.enricher.enrich(flow, lookahead));
    const latest = flows.reduce((max, flow) => Math.max(max, flow.end_time), Number.NEGATIVE_INFINITY);
    this.expireUpTo(latest);
    return aggregateFlows(enriched, this.levels);
  }

  get stats(): { table: IdentityTableStats; ends: EnricherStats } {
    return { table: this.table.stats, ends: this.enricher.stats };
  }

  /** Runs retention at most every tenth of the retention period of event time. */
  private expireUpTo(time: number): void {
    if (!(time - this.lastExpiry >= this.retentionMs / 10)) return;
    this.lastExpiry = time;
    this.table.expire(time);
  }
}
