/**
 * Per-interval aggregation of flow observations into RawFlow records. Generic: any source that
 * can say "this much traffic, in this direction, between these ends" feeds it (conntrack counter
 * deltas, denied-packet counters).
 *
 * Levels (how much of the tuple a record keeps):
 * - `tuple`: the 5-tuple; one record per connection and reporter.
 * - `no-source-port`: the source port is dropped (`source_port: null`), as Calico's default
 *   aggregation does with the ephemeral client port; connections from one client to one
 *   server port share a record.
 *
 * Time is data: `flush(intervalEnd)` closes the interval that began at the previous flush (or
 * at `intervalStart`) and stamps the records with both ends. The number of keys per interval is
 * bounded; observations that would open a key beyond the bound are dropped and counted with
 * their bytes and packets.
 */
import type { FlowAction, FlowOrigin, RawFlow, Reporter } from '../schemas/types.js';
import { noEndpointIdentity, noFlowExtras } from '../schemas/defaults.js';

export type AggregationLevel = 'tuple' | 'no-source-port';
export const AGGREGATION_LEVELS: readonly AggregationLevel[] = ['tuple', 'no-source-port'];

/** One contribution to a flow record, already seen from the reporter's side (in = towards it). */
export interface FlowObservation {
  readonly reporter: Reporter;
  readonly action: FlowAction;
  readonly proto: number;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  readonly destIp: string;
  readonly destPort: number | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly packetsIn: number;
  readonly packetsOut: number;
  /** 1 for the first contribution of a connection in this interval, else 0. */
  readonly flows: number;
  readonly started: number;
  readonly completed: number;
}

export interface FlowAggregatorOptions {
  readonly host: string;
  readonly origin: FlowOrigin;
  readonly level?: AggregationLevel;
  /** Keys (records) per interval; default 100 000. */
  readonly maxKeys?: number;
  /** Start of the first interval, epoch ms. */
  readonly intervalStart: number;
}

export interface FlowAggregatorStats {
  /** Keys open in the current interval. */
  readonly keys: number;
  /** Since creation: observations dropped because the interval was at maxKeys, and their counters. */
  readonly overflowObservations: number;
  readonly overflowBytes: number;
  readonly overflowPackets: number;
  readonly records: number;
  readonly intervals: number;
}

interface Bucket {
  readonly reporter: Reporter;
  readonly action: FlowAction;
  readonly proto: number;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  readonly destIp: string;
  readonly destPort: number | null;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  flows: number;
  started: number;
  completed: number;
}

export class FlowAggregator {
  readonly level: AggregationLevel;
  private readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();
  private start: number;
  private overflowObservations = 0;
  private overflowBytes = 0;
  private overflowPackets = 0;
  private records = 0;
  private intervals = 0;

  constructor(private readonly options: FlowAggregatorOptions) {
    this.level = options.level ?? 'no-source-port';
    if (!AGGREGATION_LEVELS.includes(this.level)) throw new RangeError(`unknown aggregation level ${JSON.stringify(this.level)}`);
    this.maxKeys = options.maxKeys ?? 100_000;
    if (!(this.maxKeys >= 1)) throw new RangeError('maxKeys must be at least 1');
    this.start = options.intervalStart;
  }

  add(o: FlowObservation): void {
    const sourcePort = this.level === 'tuple' ? o.sourcePort : null;
    const key = `${o.reporter} ${o.action} ${o.proto} ${o.sourceIp} ${sourcePort ?? '-'} ${o.destIp} ${o.destPort ?? '-'}`;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        this.overflowObservations++;
        this.overflowBytes += o.bytesIn + o.bytesOut;
        this.overflowPackets += o.packetsIn + o.packetsOut;
        return;
      }
      bucket = {
        reporter: o.reporter,
        action: o.action,
        proto: o.proto,
        sourceIp: o.sourceIp,
        sourcePort,
        destIp: o.destIp,
        destPort: o.destPort,
        bytesIn: 0,
        bytesOut: 0,
        packetsIn: 0,
        packetsOut: 0,
        flows: 0,
        started: 0,
        completed: 0,
      };
      this.buckets.set(key, bucket);
    }
    bucket.bytesIn += o.bytesIn;
    bucket.bytesOut += o.bytesOut;
    bucket.packetsIn += o.packetsIn;
    bucket.packetsOut += o.packetsOut;
    bucket.flows += o.flows;
    bucket.started += o.started;
    bucket.completed += o.completed;
  }

  /** Closes the interval [previous end, intervalEnd] and returns its records (in first-seen order). */
  flush(intervalEnd: number): RawFlow[] {
    if (!(intervalEnd >= this.start)) throw new RangeError(`interval end ${intervalEnd} is before its start ${this.start}`);
    const { host, origin } = this.options;
    const out: RawFlow[] = [];
    for (const b of this.buckets.values()) out.push(recordOf(b, this.start, intervalEnd, host, origin));
    this.buckets.clear();
    this.start = intervalEnd;
    this.records += out.length;
    this.intervals++;
    return out;
  }

  /** Start of the open interval. */
  get intervalStart(): number {
    return this.start;
  }

  stats(): FlowAggregatorStats {
    return {
      keys: this.buckets.size,
      overflowObservations: this.overflowObservations,
      overflowBytes: this.overflowBytes,
      overflowPackets: this.overflowPackets,
      records: this.records,
      intervals: this.intervals,
    };
  }
}

/** One object literal of one fixed shape (keeps the Avro writer on one hidden class). */
function recordOf(b: Bucket, start: number, end: number, host: string, origin: FlowOrigin): RawFlow {
  return {
    start_time: start,
    end_time: end,
    origin,
    host,
    source_ip: b.sourceIp,
    source_port: b.sourcePort,
    dest_ip: b.destIp,
    dest_port: b.destPort,
    proto: b.proto,
    reporter: b.reporter,
    action: b.action,
    policies: [],
    bytes_in: b.bytesIn,
    bytes_out: b.bytesOut,
    packets_in: b.packetsIn,
    packets_out: b.packetsOut,
    num_flows: b.flows,
    num_flows_started: b.started,
    num_flows_completed: b.completed,
    ...noEndpointIdentity,
    ...noFlowExtras,
  };
}
