/**
 * The pure core of the conntrack source: connection-table polls, DESTROY events and denied
 * counters in; per-interval RawFlow records out. No I/O, no clock: every time is an argument.
 *
 *   poll(entries)      a full dump of the table          → allow deltas
 *   destroyed(entry)   a DESTROY event (final counters)  → allow deltas
 *   denied(elements)   a read of the deny set            → deny deltas
 *   flush(end)         closes the interval               → RawFlow[]
 *
 * Direction (conntrack-direction.ts): the originator is the original tuple's source, the
 * responder the reply tuple's source. Seen from the `src` reporter, original-direction traffic
 * is out and reply traffic in; from the `dst` reporter the other way round.
 */
import type { ConnectionDelta, ConntrackDeltaStats } from './conntrack-delta.js';
import { ConntrackDeltaTable } from './conntrack-delta.js';
import type { DenyDelta, DenyElement, DenyTableStats } from './conntrack-deny.js';
import { DenyCounterTable } from './conntrack-deny.js';
import { type BothLocal, LocalEndpoints, reportersOf } from './conntrack-direction.js';
import type { ConntrackEntry } from './conntrack-parse.js';
import { type AggregationLevel, FlowAggregator, type FlowAggregatorStats } from './flow-aggregator.js';
import type { RawFlow } from '../schemas/types.js';

export interface ConntrackCollectorOptions {
  /** Node name, written as `host`. */
  readonly host: string;
  /** The node's pod and host addresses / CIDR blocks. */
  readonly local: LocalEndpoints | readonly string[];
  readonly level?: AggregationLevel;
  readonly bothLocal?: BothLocal;
  readonly maxConnections?: number;
  /** Records per interval; default twice maxConnections (both ends of every connection at the tuple level). */
  readonly maxFlowKeys?: number;
  readonly maxDenyElements?: number;
  readonly firstPollIsBaseline?: boolean;
  /** Start of the first interval, epoch ms. */
  readonly intervalStart: number;
}

export interface ConntrackCollectorStats {
  readonly connections: ConntrackDeltaStats;
  readonly deny: DenyTableStats;
  readonly flows: FlowAggregatorStats;
  /** Deltas of connections with no local end (not reported). */
  readonly notLocal: number;
  /** Denied packets the set did not attribute to a key (set full, or element expired between reads). */
  readonly denyUnattributedPackets: number;
}

export class ConntrackCollector {
  private readonly local: LocalEndpoints;
  private readonly bothLocal: BothLocal;
  private readonly table: ConntrackDeltaTable;
  private readonly deny: DenyCounterTable;
  private readonly aggregator: FlowAggregator;
  private notLocal = 0;
  private denyUnattributed = 0;
  private lastDenyTotal: number | null = null;
  private readonly onDelta = (d: ConnectionDelta) => this.addConnection(d);
  private readonly onDeny = (d: DenyDelta) => this.addDeny(d);

  constructor(options: ConntrackCollectorOptions) {
    this.local = options.local instanceof LocalEndpoints ? options.local : LocalEndpoints.of(options.local);
    this.bothLocal = options.bothLocal ?? 'both';
    this.table = new ConntrackDeltaTable({ maxConnections: options.maxConnections, firstPollIsBaseline: options.firstPollIsBaseline });
    this.deny = new DenyCounterTable(options.maxDenyElements, options.firstPollIsBaseline ?? true);
    this.aggregator = new FlowAggregator({
      host: options.host,
      origin: 'conntrack',
      level: options.level,
      maxKeys: options.maxFlowKeys ?? 2 * (options.maxConnections ?? 262_144),
      intervalStart: options.intervalStart,
    });
  }

  poll(entries: readonly ConntrackEntry[]): void {
    this.table.poll(entries, this.onDelta);
  }

  destroyed(entry: ConntrackEntry): void {
    this.table.destroyed(entry, this.onDelta);
  }

  /** One read of the deny set, and optionally of the counter on the deny rules (packets). */
  denied(elements: readonly DenyElement[], totalPackets?: number): void {
    let attributed = 0;
    this.deny.poll(elements, (d) => {
      attributed += d.packets;
      this.onDeny(d);
    });
    if (totalPackets === undefined) return;
    if (this.lastDenyTotal !== null && totalPackets >= this.lastDenyTotal) {
      this.denyUnattributed += Math.max(0, totalPackets - this.lastDenyTotal - attributed);
    }
    this.lastDenyTotal = totalPackets;
  }

  flush(intervalEnd: number): RawFlow[] {
    return this.aggregator.flush(intervalEnd);
  }

  get intervalStart(): number {
    return this.aggregator.intervalStart;
  }

  stats(): ConntrackCollectorStats {
    return {
      connections: this.table.stats(),
      deny: this.deny.stats(),
      flows: this.aggregator.stats(),
      notLocal: this.notLocal,
      denyUnattributedPackets: this.denyUnattributed,
    };
  }

  private addConnection(d: ConnectionDelta): void {
    const e = d.entry;
    const reporters = reportersOf(this.local, e.src, e.replySrc, this.bothLocal);
    if (reporters.length === 0) {
      this.notLocal++;
      return;
    }
    const flows = d.counted ? 1 : 0;
    const started = d.started ? 1 : 0;
    const completed = d.completed ? 1 : 0;
    for (const reporter of reporters) {
      const out = reporter === 'src';
      this.aggregator.add({
        reporter,
        action: 'allow',
        proto: e.proto,
        sourceIp: e.src,
        sourcePort: e.sport,
        destIp: e.replySrc,
        destPort: e.replySport,
        bytesIn: out ? d.replyBytes : d.origBytes,
        bytesOut: out ? d.origBytes : d.replyBytes,
        packetsIn: out ? d.replyPackets : d.origPackets,
        packetsOut: out ? d.origPackets : d.replyPackets,
        flows,
        started,
        completed,
      });
    }
  }

  /** A denied attempt is over as soon as it is denied: each key with new packets counts as one flow started and completed. */
  private addDeny(d: DenyDelta): void {
    const e = d.element;
    const reporters = reportersOf(this.local, e.src, e.dst, this.bothLocal);
    if (reporters.length === 0) {
      this.notLocal++;
      return;
    }
    for (const reporter of reporters) {
      const out = reporter === 'src';
      this.aggregator.add({
        reporter,
        action: 'deny',
        proto: e.proto,
        sourceIp: e.src,
        sourcePort: null,
        destIp: e.dst,
        destPort: e.dport,
        bytesIn: out ? 0 : d.bytes,
        bytesOut: out ? d.bytes : 0,
        packetsIn: out ? 0 : d.packets,
        packetsOut: out ? d.packets : 0,
        flows: 1,
        started: 1,
        completed: 1,
      });
    }
  }
}
