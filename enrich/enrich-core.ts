import type { EnrichedFlow, IdentityResolution, InventoryEvent, RawFlow } from '../schemas/types.js';
import { aggregateFlows, defaultAggregationLevels, type AggregationLevels } from './aggregation.js';
import { Enricher, type EnricherOptions } from './enricher.js';
import { IdentityTable, type IdentityTableStats } from './identity-table.js';

export interface EnrichCoreOptions extends EnricherOptions {
  /** How long a flow may wait for the inventory to show an address, milliseconds. Default 2 s. */
  readonly graceMs?: number;
  readonly levels?: AggregationLevels;
  /** How long ended claims are kept, milliseconds. Default one hour. */
  readonly retentionMs?: number;
}

export const defaultGraceMs = 2_000;

/** Flow ends enriched, by how their identity was found (`*_resolution`). */
export type EndCounts = Readonly<Record<IdentityResolution, number>>;

/** The latest end time of some flows: what a wait for the inventory, or replay's read-ahead, goes by. */
export function latestEnd(flows: readonly { readonly end_time: number }[]): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const flow of flows) if (flow.end_time > latest) latest = flow.end_time;
  return latest;
}

/** Objects the retention looks at per enriched flow (at least 100 per batch): a full pass over 200k objects every ~100k flows. */
const expiryObjectsPerFlow = 2;

/**
 * The enrich stage's pure core: the identity table, the join, and output aggregation. The live
 * worker and the file replay drive the same core; only how they wait for the inventory differs.
 */
export class EnrichCore {
  readonly table: IdentityTable;
  readonly graceMs: number;
  private readonly enricher: Enricher;
  private readonly levels: AggregationLevels;
  private readonly counts = { reported: 0, inventory: 0, network: 0, unknown: 0 };

  constructor(options: EnrichCoreOptions = {}) {
    this.table = new IdentityTable(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs });
    this.enricher = new Enricher(this.table, options);
    this.graceMs = options.graceMs ?? defaultGraceMs;
    this.levels = options.levels ?? defaultAggregationLevels;
  }

  applyInventory(event: InventoryEvent): void {
    this.table.apply(event);
  }

  /**
   * Enriches flows, counts how each end was found, and aggregates them by level; runs a slice of
   * retention on event time. Objects the inventory saw up to the grace after a flow count for it
   * (the grace a caller waited, or replay's read-ahead); `waited` false counts only what held the
   * address during the flow.
   */
  enrich(flows: readonly RawFlow[], waited = true): EnrichedFlow[] {
    return this.aggregate(this.enrichEach(flows, waited));
  }

  /** `enrich` without the aggregation: one record per flow, every address and port kept (what detection reads in replay). */
  enrichEach(flows: readonly RawFlow[], waited = true): EnrichedFlow[] {
    const lookahead = waited ? this.graceMs : 0;
    const records = flows.map((flow) => this.enricher.enrich(flow, lookahead));
    const counts = this.counts;
    for (const record of records) {
      counts[record.source_resolution ?? 'reported']++;
      counts[record.dest_resolution ?? 'reported']++;
    }
    // Retention follows event time, but never past what the inventory has shown: one flow stamped
    // far in the future must not wipe the table.
    this.expireUpTo(Math.min(latestEnd(records), this.table.inventoryTime), Math.max(100, expiryObjectsPerFlow * records.length));
    return records;
  }

  /** The output aggregation, by the configured levels. */
  aggregate(records: readonly EnrichedFlow[]): EnrichedFlow[] {
    return aggregateFlows(records, this.levels);
  }

  /** Flow ends enriched so far, by how their identity was found (cheap: no table walk). */
  get endCounts(): EndCounts {
    return { ...this.counts };
  }

  get stats(): { table: IdentityTableStats; ends: EndCounts } {
    return { table: this.table.stats, ends: { ...this.counts } };
  }

  /** Retention in slices: each batch looks at a few objects per flow, so no batch pays for a whole pass. */
  private expireUpTo(time: number, budget: number): void {
    if (Number.isFinite(time)) this.table.expire(time, budget);
  }
}
