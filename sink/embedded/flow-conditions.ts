/**
 * A `FlowFilter` as an SQL condition on the flows table's columns. Pure.
 *
 * The condition keeps every flow the filter matches and may keep more: labels are not columns,
 * so label conditions are left out. The store reads the candidates and keeps those `flowMatches`
 * accepts, so the shared model decides every answer; the condition lets SQLite skip, by its
 * indexes, what cannot match (other times, addresses, namespaces). Without label conditions it
 * is exact (`exact`): each column compares as `flowMatches` does (addresses and blocks as
 * 128-bit ranges, a text that is neither matching nothing), so aggregations can sum in SQL.
 */
import type { EndFilter, FlowFilter } from '../query/flow-filter.js';
import type { Side } from '../query/results.js';
import { ipKeyRange } from './ip-keys.js';

export type SqlValue = string | number;

export interface SqlCondition {
  /** An SQL expression over the flows table (`1` when nothing can be said). */
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

export interface FlowCondition extends SqlCondition {
  /** Whether the condition says all the filter says (no label condition was left out). */
  readonly exact: boolean;
}

class Terms {
  readonly sql: string[] = [];
  readonly params: SqlValue[] = [];

  add(sql: string, params: readonly SqlValue[] = []): void {
    this.sql.push(sql);
    this.params.push(...params);
  }

  /** `column IN (...)` when any value is given (none given holds everything). */
  oneOf(column: string, values: readonly SqlValue[] | undefined): void {
    if (!values || values.length === 0) return;
    this.add(values.length === 1 ? `${column} = ?` : `${column} IN (${values.map(() => '?').join(', ')})`, values);
  }

  joined(operator: 'AND' | 'OR'): SqlCondition {
    if (this.sql.length === 0) return { sql: '1', params: [] };
    return { sql: this.sql.length === 1 ? this.sql[0]! : this.sql.map((term) => `(${term})`).join(` ${operator} `), params: this.params };
  }
}

/** What the columns can say of one end: all of it but the labels. Undefined when that is nothing. */
function endCondition(side: Side, end: EndFilter): SqlCondition | undefined {
  const terms = new Terms();
  terms.oneOf(`${side}_namespace`, end.namespace);
  terms.oneOf(`${side}_name`, end.name);
  terms.oneOf(`${side}_name_aggr`, end.name_aggr);
  terms.oneOf(`${side}_workload`, end.workload);
  terms.oneOf(`${side}_port`, end.port);
  if (end.ip && end.ip.length > 0) {
    // A text that is no address or block matches nothing (as in flowMatches).
    const ranges = end.ip.map(ipKeyRange).filter((range) => range !== undefined);
    if (ranges.length === 0) terms.add('0');
    else terms.add(ranges.map(() => `${side}_ip_key BETWEEN ? AND ?`).join(' OR '), ranges.flatMap(({ low, high }) => [low, high]));
  }
  return terms.sql.length === 0 ? undefined : terms.joined('AND');
}

const hasLabels = (end: EndFilter | undefined) => (end?.label?.length ?? 0) > 0;

/** The condition a filter puts on the flows table's columns. */
export function flowCondition(filter: FlowFilter): FlowCondition {
  const terms = new Terms();
  if (filter.from !== undefined) terms.add('end_time >= ?', [filter.from]);
  if (filter.to !== undefined) terms.add('end_time < ?', [filter.to]);
  for (const side of ['source', 'dest'] as const) {
    const end = filter[side];
    const condition = end && endCondition(side, end);
    if (condition) terms.add(condition.sql, condition.params);
  }
  for (const end of filter.any ?? []) {
    const source = endCondition('source', end);
    const dest = endCondition('dest', end);
    if (source && dest) terms.add(`(${source.sql}) OR (${dest.sql})`, [...source.params, ...dest.params]);
  }
  terms.oneOf('proto', filter.proto);
  terms.oneOf('action', filter.action);
  terms.oneOf('reporter', filter.reporter);
  terms.oneOf('host', filter.host);
  const exact = !hasLabels(filter.source) && !hasLabels(filter.dest) && !(filter.any ?? []).some(hasLabels);
  return { ...terms.joined('AND'), exact };
}
