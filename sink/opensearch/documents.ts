/**
 * Records as OpenSearch documents: which index, which id, which body. Pure.
 *
 * - **Ids come from the record itself**, never from a bus offset, so a record produced twice
 *   upstream (a retried send, a replay) lands once. An action's id is a hash of its `action_id`
 *   and `status`: a responder that decides an alert again (a batch read again) states the same
 *   outcome with fresh timestamps, and it must land once; a different outcome of the same action
 *   (failed, then applied) is a document of its own. A flow's id is a hash of its
 *   Avro encoding: every schema field in schema order, a missing one at its default, label maps
 *   in key order (so a record decoded from the bus and the same record built in code agree). A
 *   new EnrichedFlow version changes the ids: replaying old flows into the same indices after
 *   an upgrade writes them again beside the old documents. An alert's id is its `alert_id`, written with its
 *   `revision` as an external version: the newest revision stays, an older one arriving late is
 *   refused by OpenSearch as a version conflict, which counts as written.
 * - **Indices are per kind and time**: `<prefix>-flows-YYYY.MM.DD` by the flow's end (UTC day),
 *   `<prefix>-alerts-YYYY.MM` by the time the episode opened (every revision in one index),
 *   `<prefix>-actions-YYYY.MM` by the request time. Retention deletes whole indices.
 * - **Bodies** keep the record's field names (the Calico vocabulary), with times as epoch
 *   milliseconds, plus what queries need: `@timestamp` (the time field of the index pattern),
 *   `bytes` and `packets` (both directions), and labels twice: the map as it was (`source_labels`,
 *   kept in `_source`) and `source_label`, a list of `key=value` keywords that term queries and
 *   aggregations can use whatever the label keys are.
 */
import { createHash } from 'node:crypto';
import type { Alert, EnrichedFlow, Labels, ResponseAction } from '../../schemas/types.js';
import { codecFor } from '../../schemas/codec.js';
import type { SinkRecord, SinkRecordKind } from '../outlet.js';

export interface IndexNaming {
  /** First word of every index, template and policy name. Default `flowsentry`. */
  readonly prefix: string;
}

export const defaultIndexNaming: IndexNaming = { prefix: 'flowsentry' };

/** The plural each kind's indices carry: flows, alerts, actions. */
export const indexWords: Readonly<Record<SinkRecordKind, string>> = { flow: 'flows', alert: 'alerts', action: 'actions' };

/** How the indices of a kind are cut in time. */
export const indexPeriods: Readonly<Record<SinkRecordKind, 'day' | 'month'>> = { flow: 'day', alert: 'month', action: 'month' };

export interface IndexedDocument {
  readonly index: string;
  readonly id: string;
  /** The document, as an object; absent when given as `source`. */
  readonly body?: Record<string, unknown>;
  /** An external version (alerts: the revision); an older one is refused by OpenSearch. */
  readonly version?: number;
  /** The document as JSON, when it was serialized already (flows: built as text, which is much cheaper). */
  readonly source?: string;
}

/** The document as an object, whichever way it was given. */
export function bodyOf(doc: IndexedDocument): Record<string, unknown> {
  return doc.body ?? (JSON.parse(doc.source ?? '{}') as Record<string, unknown>);
}

/** The document as JSON, whichever way it was given. */
export function sourceOf(doc: IndexedDocument): string {
  return doc.source ?? JSON.stringify(doc.body ?? {});
}

const two = (value: number) => String(value).padStart(2, '0');

/** `<prefix>-<kind word>-YYYY.MM.DD` (day) or `-YYYY.MM` (month), in UTC. */
export function indexNameOf(kind: SinkRecordKind, time: number, naming: IndexNaming = defaultIndexNaming): string {
  const date = new Date(time);
  const month = `${date.getUTCFullYear()}.${two(date.getUTCMonth() + 1)}`;
  const stamp = indexPeriods[kind] === 'day' ? `${month}.${two(date.getUTCDate())}` : month;
  return `${naming.prefix}-${indexWords[kind]}-${stamp}`;
}

/** The pattern matching every index of a kind: `flowsentry-flows-*`. */
export function indexPatternOf(kind: SinkRecordKind, naming: IndexNaming = defaultIndexNaming): string {
  return `${naming.prefix}-${indexWords[kind]}-*`;
}

/**
 * The time an index name stands for and the time it ends (exclusive), or undefined when the name
 * is not one of this kind's indices. Retention reads index ages from names.
 */
export function indexPeriodOf(kind: SinkRecordKind, index: string, naming: IndexNaming = defaultIndexNaming): { start: number; end: number } | undefined {
  const head = `${naming.prefix}-${indexWords[kind]}-`;
  if (!index.startsWith(head)) return undefined;
  const stamp = index.slice(head.length);
  const byDay = indexPeriods[kind] === 'day';
  const match = (byDay ? /^(\d{4})\.(\d{2})\.(\d{2})$/ : /^(\d{4})\.(\d{2})$/).exec(stamp);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  const day = byDay ? Number(match[3]) : 1;
  const start = Date.UTC(year, month, day);
  const end = byDay ? Date.UTC(year, month, day + 1) : Date.UTC(year, month + 1, 1);
  return new Date(start).getUTCMonth() === month ? { start, end } : undefined;
}

const flowCodec = codecFor('EnrichedFlow');

function isSorted(map: Labels | null | undefined): boolean {
  if (!map) return true;
  let previous: string | undefined;
  for (const key in map) {
    if (previous !== undefined && key < previous) return false;
    previous = key;
  }
  return true;
}

function sortedLabels(map: Labels | undefined): Labels | undefined {
  if (!map || isSorted(map)) return map;
  const sorted: Labels = {};
  for (const key of Object.keys(map).sort()) sorted[key] = map[key]!;
  return sorted;
}

const idOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url').slice(0, 27);

/**
 * A flow's document id: 27 characters of base64url SHA-256 over its Avro encoding (the sink's
 * current EnrichedFlow version), with its label maps in key order. Encoding puts every field in
 * schema order and a missing one at its default, so a record decoded from the bus and the same
 * record built in code (fields left out, labels in another order) get the same id.
 */
export function flowIdOf(flow: EnrichedFlow): string {
  const canonical =
    isSorted(flow.source_labels) && isSorted(flow.dest_labels) ? flow : { ...flow, source_labels: sortedLabels(flow.source_labels), dest_labels: sortedLabels(flow.dest_labels) };
  return idOf(flowCodec.encode(canonical));
}

/** `key=value` for every label, sorted: what label filters and aggregations use. */
export function labelPairs(labels: Labels | null | undefined): string[] {
  if (!labels) return [];
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .sort();
}

/** The time an alert's episode opened: the suffix of its alert_id (`<fingerprint>:<ms>`), else its window start. */
export function alertOpenedAt(alert: Alert): number {
  const suffix = alert.alert_id.slice(alert.alert_id.lastIndexOf(':') + 1);
  const opened = /^\d{1,15}$/.test(suffix) ? Number(suffix) : Number.NaN;
  return Number.isFinite(opened) ? opened : alert.start_time;
}

export function flowDocument(flow: EnrichedFlow, naming: IndexNaming = defaultIndexNaming): IndexedDocument {
  const text = JSON.stringify(flow);
  const id = flowIdOf(flow);
  const extras = {
    source_label: labelPairs(flow.source_labels),
    dest_label: labelPairs(flow.dest_labels),
    '@timestamp': flow.end_time,
    flow_id: id,
    bytes: flow.bytes_in + flow.bytes_out,
    packets: flow.packets_in + flow.packets_out,
  };
  const source = `${text.slice(0, -1)},${JSON.stringify(extras).slice(1)}`;
  return {
    index: indexNameOf('flow', flow.end_time, naming),
    id,
    source,
  };
}

export function alertDocument(alert: Alert, naming: IndexNaming = defaultIndexNaming): IndexedDocument {
  const opened = alertOpenedAt(alert);
  return {
    index: indexNameOf('alert', opened, naming),
    id: alert.alert_id,
    version: alert.revision ?? 0,
    body: {
      ...alert,
      source_label: labelPairs(alert.source_labels),
      dest_label: labelPairs(alert.dest_labels),
      '@timestamp': alert.end_time,
      opened_at: opened,
    },
  };
}

export function actionDocument(action: ResponseAction, naming: IndexNaming = defaultIndexNaming): IndexedDocument {
  return {
    index: indexNameOf('action', action.requested_at, naming),
    id: idOf(Buffer.from(`${action.action_id}\n${action.status}`, 'utf8')),
    body: { ...action, '@timestamp': action.requested_at },
  };
}

export function documentOf(record: SinkRecord, naming: IndexNaming = defaultIndexNaming): IndexedDocument {
  switch (record.kind) {
    case 'flow':
      return flowDocument(record.record, naming);
    case 'alert':
      return alertDocument(record.record, naming);
    case 'action':
      return actionDocument(record.record, naming);
  }
}
