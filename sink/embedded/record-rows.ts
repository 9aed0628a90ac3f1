/**
 * Records as rows of the embedded store, with the ids the OpenSearch outlet gives them
 * (`documents.ts`), so both keep the same records once: a flow by `flowIdOf` (a hash of the
 * record), an alert by `alert_id` at its `revision`, an action by the hash of its `action_id`
 * and `status`. Pure.
 */
import type { Alert, EnrichedFlow, ResponseAction } from '../../schemas/types.js';
import { actionDocument, alertOpenedAt, flowIdOf } from '../opensearch/documents.js';
import type { SinkRecord } from '../outlet.js';
import { ipKeyOf } from './ip-keys.js';

/** A value SQLite binds; anything else in a column (a boolean, an object) refuses the record. */
export type Cell = string | number | null;

export interface RecordRow {
  readonly kind: SinkRecord['kind'];
  /** The record's id (flow id, alert id, action document id). */
  readonly id: string;
  /** The kind's columns (`flowColumns`, ...), in their order. */
  readonly cells: readonly Cell[];
  /** The record as JSON: what queries return. */
  readonly record: string;
}

export const flowColumns = [
  'flow_id',
  'end_time',
  'start_time',
  'source_ip',
  'source_ip_key',
  'source_port',
  'source_namespace',
  'source_name',
  'source_name_aggr',
  'source_workload',
  'dest_ip',
  'dest_ip_key',
  'dest_port',
  'dest_namespace',
  'dest_name',
  'dest_name_aggr',
  'dest_workload',
  'proto',
  'action',
  'reporter',
  'host',
  'bytes',
] as const;

export const alertColumns = ['alert_id', 'revision', 'opened_at', 'start_time', 'end_time', 'detector', 'severity', 'status', 'source_ip', 'dest_ip'] as const;

export const actionColumns = ['id', 'action_id', 'alert_id', 'kind', 'status', 'requested_at'] as const;

const cell = (value: unknown): Cell => (value === undefined ? null : (value as Cell));

/** A flow's row; throws (SCHEMA_INVALID_RECORD) when the record does not fit the EnrichedFlow schema. */
export function flowRow(flow: EnrichedFlow): RecordRow {
  const id = flowIdOf(flow);
  return {
    kind: 'flow',
    id,
    cells: [
      id,
      flow.end_time,
      flow.start_time,
      cell(flow.source_ip),
      ipKeyOf(flow.source_ip),
      cell(flow.source_port),
      cell(flow.source_namespace),
      cell(flow.source_name),
      cell(flow.source_name_aggr),
      cell(flow.source_workload),
      cell(flow.dest_ip),
      ipKeyOf(flow.dest_ip),
      cell(flow.dest_port),
      cell(flow.dest_namespace),
      cell(flow.dest_name),
      cell(flow.dest_name_aggr),
      cell(flow.dest_workload),
      flow.proto,
      flow.action,
      flow.reporter,
      flow.host,
      flow.bytes_in + flow.bytes_out,
    ],
    record: JSON.stringify(flow),
  };
}

/** An alert's row: its id and revision (absent: 0) as the OpenSearch document's id and version. */
export function alertRow(alert: Alert): RecordRow {
  return {
    kind: 'alert',
    id: alert.alert_id,
    cells: [
      cell(alert.alert_id),
      cell(alert.revision ?? 0),
      alertOpenedAt(alert),
      cell(alert.start_time),
      cell(alert.end_time),
      cell(alert.detector),
      cell(alert.severity),
      cell(alert.status),
      cell(alert.source_ip),
      cell(alert.dest_ip),
    ],
    record: JSON.stringify(alert),
  };
}

export function actionRow(action: ResponseAction): RecordRow {
  const id = actionDocument(action).id;
  return {
    kind: 'action',
    id,
    cells: [id, cell(action.action_id), cell(action.alert_id), cell(action.kind), cell(action.status), cell(action.requested_at)],
    record: JSON.stringify(action),
  };
}

export function rowOf(record: SinkRecord): RecordRow {
  switch (record.kind) {
    case 'flow':
      return flowRow(record.record);
    case 'alert':
      return alertRow(record.record);
    case 'action':
      return actionRow(record.record);
  }
}
