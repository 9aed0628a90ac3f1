/**
 * CloudWatch metrics from the records written, in the Embedded Metric Format: JSON log events
 * from which CloudWatch extracts metrics, with no call to the metrics API. Pure.
 *
 * Per minute (of the flow's `end_time`, the alert's `end_time`) and per source namespace (`-`
 * when the source is not a pod: a host, a network), one document in namespace `Flowsentry`,
 * dimension `Namespace`, with:
 * - `Flows` (Count): the flows' `num_flows`;
 * - `Bytes` (Bytes): the flows' `bytes_in + bytes_out`;
 * - `DeniedFlows` (Count): `num_flows` of the flows whose action is `deny`;
 * - `Alerts` (Count): alert records (revisions included) whose source namespace it is.
 * Documents are built per write, so one minute may come in several documents: read the metrics
 * with the Sum statistic. Response actions add nothing.
 */
import type { SinkRecord } from '../outlet.js';
import type { LogEvent } from './log-batches.js';

export const EMF_NAMESPACE = 'Flowsentry';
export const EMF_DIMENSION = 'Namespace';
const MINUTE = 60_000;
const NO_NAMESPACE = '-';

export const emfMetrics = [
  { Name: 'Flows', Unit: 'Count' },
  { Name: 'Bytes', Unit: 'Bytes' },
  { Name: 'DeniedFlows', Unit: 'Count' },
  { Name: 'Alerts', Unit: 'Count' },
] as const;

interface Tally {
  readonly minute: number;
  readonly namespace: string;
  flows: number;
  bytes: number;
  denied: number;
  alerts: number;
}

export interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly [
      { readonly Namespace: string; readonly Dimensions: readonly (readonly string[])[]; readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[] },
    ];
  };
  readonly Namespace: string;
  readonly Flows: number;
  readonly Bytes: number;
  readonly DeniedFlows: number;
  readonly Alerts: number;
}

/** The tallies of `records` per minute and source namespace, as EMF documents in time order. */
export function emfDocuments(records: Iterable<SinkRecord>): EmfDocument[] {
  const tallies = new Map<string, Tally>();
  const tally = (time: number, namespace: string | null | undefined) => {
    const minute = Math.floor(time / MINUTE) * MINUTE;
    const ns = namespace || NO_NAMESPACE;
    const key = `${minute}\u0000${ns}`;
    let found = tallies.get(key);
    if (!found) {
      found = { minute, namespace: ns, flows: 0, bytes: 0, denied: 0, alerts: 0 };
      tallies.set(key, found);
    }
    return found;
  };
  for (const record of records) {
    if (record.kind === 'flow') {
      const flow = record.record;
      const t = tally(flow.end_time, flow.source_namespace);
      t.flows += flow.num_flows;
      t.bytes += flow.bytes_in + flow.bytes_out;
      if (flow.action === 'deny') t.denied += flow.num_flows;
    } else if (record.kind === 'alert') {
      tally(record.record.end_time, record.record.source_namespace).alerts += 1;
    }
  }
  return [...tallies.values()]
    .sort((a, b) => a.minute - b.minute || (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0))
    .map((t) => ({
      _aws: {
        Timestamp: t.minute,
        CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: [[EMF_DIMENSION]], Metrics: emfMetrics }],
      },
      Namespace: t.namespace,
      Flows: t.flows,
      Bytes: t.bytes,
      DeniedFlows: t.denied,
      Alerts: t.alerts,
    }));
}

/** The EMF documents of `records` as log events, timestamped at their minute. */
export function emfLogEvents(records: Iterable<SinkRecord>): LogEvent[] {
  return emfDocuments(records).map((document) => ({ timestamp: document._aws.Timestamp, message: JSON.stringify(document) }));
}
