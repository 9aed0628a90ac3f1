/**
 * Answers as text: a table with aligned columns (terminals), JSON lines (one record a line, the
 * full record), or CSV (RFC 4180: a header, fields quoted when they hold a comma, a quote, a line
 * break or edge spaces, quotes doubled, CRLF line ends). The CLI and the HTTP API both print with it. Pure.
 */
import { podRefText, protocolName, type PodRef } from './flow-filter.js';
import type { Caller, FlowPage, GraphEdge, Party, StoredFlow, Talker } from './flow-store.js';

export const outputFormats = ['table', 'jsonl', 'csv'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export type Answer =
  | { readonly question: 'flows'; readonly page: FlowPage }
  | { readonly question: 'timeline'; readonly page: FlowPage; readonly pod: PodRef }
  | { readonly question: 'top-talkers'; readonly talkers: readonly Talker[] }
  | { readonly question: 'graph'; readonly edges: readonly GraphEdge[] }
  | { readonly question: 'who-talked-to'; readonly callers: readonly Caller[] };

type Cell = string | number | null;

export interface Rows {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** What JSON lines carry: the records themselves. */
  readonly records: readonly unknown[];
}

const iso = (time: number) => new Date(time).toISOString();
export const partyText = (party: Party | undefined) => (!party ? null : party.namespace === null ? party.name : `${party.namespace}/${party.name}`);

function endText(flow: StoredFlow, side: 'source' | 'dest'): string {
  const namespace = side === 'source' ? flow.source_namespace : flow.dest_namespace;
  const name = (side === 'source' ? flow.source_name : flow.dest_name) ?? (side === 'source' ? flow.source_name_aggr : flow.dest_name_aggr);
  return namespace ? `${namespace}/${name}` : name;
}

/** How a flow stands to a pod: `out` (the pod sent it), `in`, or `self`. */
export function podRole(pod: PodRef, flow: StoredFlow): 'out' | 'in' | 'self' {
  const is = (side: 'source' | 'dest') =>
    'ip' in pod
      ? (side === 'source' ? flow.source_ip : flow.dest_ip) === pod.ip
      : (side === 'source' ? flow.source_namespace : flow.dest_namespace) === pod.namespace && (side === 'source' ? flow.source_name : flow.dest_name) === pod.name;
  const [source, dest] = [is('source'), is('dest')];
  return source && dest ? 'self' : source ? 'out' : 'in';
}

const flowColumns = ['time', 'source', 'source_ip', 'source_port', 'dest', 'dest_ip', 'dest_port', 'proto', 'action', 'reporter', 'host', 'bytes', 'packets', 'flow_id'];
const flowCells = (flow: StoredFlow): Cell[] => [
  iso(flow.end_time),
  endText(flow, 'source'),
  flow.source_ip ?? null,
  flow.source_port ?? null,
  endText(flow, 'dest'),
  flow.dest_ip ?? null,
  flow.dest_port ?? null,
  protocolName(flow.proto),
  flow.action,
  flow.reporter,
  flow.host,
  flow.bytes_in + flow.bytes_out,
  flow.packets_in + flow.packets_out,
  flow.flow_id,
];

export function rowsOf(answer: Answer): Rows {
  switch (answer.question) {
    case 'flows':
      return { columns: flowColumns, rows: answer.page.flows.map(flowCells), records: answer.page.flows };
    case 'timeline':
      return {
        columns: ['role', ...flowColumns],
        rows: answer.page.flows.map((flow) => [podRole(answer.pod, flow), ...flowCells(flow)]),
        records: answer.page.flows.map((flow) => ({ role: podRole(answer.pod, flow), pod: podRefText(answer.pod), ...flow })),
      };
    case 'top-talkers': {
      const sides = (['source', 'dest'] as const).filter((side) => answer.talkers.some((talker) => talker[side]));
      return {
        columns: ['rank', ...sides, 'flows', 'bytes'],
        rows: answer.talkers.map((talker, i) => [i + 1, ...sides.map((side) => partyText(talker[side])), talker.flows, talker.bytes]),
        records: answer.talkers,
      };
    }
    case 'graph':
      return {
        columns: ['source', 'dest', 'flows', 'bytes', 'ports', 'denied', 'denied_flows'],
        rows: answer.edges.map((edge) => [partyText(edge.source), partyText(edge.dest), edge.flows, edge.bytes, edge.ports.join(' '), edge.denied ? 'yes' : 'no', edge.denied_flows]),
        records: answer.edges,
      };
    case 'who-talked-to':
      return {
        columns: ['source_ip', 'source', 'workload', 'flows', 'bytes', 'denied_flows', 'first_seen', 'last_seen'],
        rows: answer.callers.map(({ source, ...caller }) => [
          source.ip,
          source.namespace ? `${source.namespace}/${source.name ?? ''}` : source.name,
          source.workload,
          caller.flows,
          caller.bytes,
          caller.denied_flows,
          iso(caller.first_seen),
          iso(caller.last_seen),
        ]),
        records: answer.callers,
      };
  }
}

/**
 * A CSV field: quoted when it holds a comma, a quote, a line break or leading/trailing spaces. A
 * text that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
 * return: flow data can carry what an attacker chose, such as process arguments) gets a leading
 * `'`, so it is shown, not run. Numbers are written as they are.
 */
export function csvField(cell: Cell): string {
  const text = cell === null ? '' : typeof cell === 'string' && /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : String(cell);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function formatCsv(rows: Rows): string {
  return [rows.columns, ...rows.rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}

export function formatJsonLines(rows: Rows): string {
  return rows.records.map((record) => `${JSON.stringify(record)}\n`).join('');
}

/** Columns padded to their widest cell; numbers aligned right; empty cells as `-`. */
export function formatTable(rows: Rows): string {
  const texts = rows.rows.map((row) => row.map((cell) => (cell === null || cell === '' ? '-' : String(cell).replace(/[\r\n\t]/g, ' '))));
  const numeric = rows.columns.map((_, i) => rows.rows.length > 0 && rows.rows.every((row) => row[i] === null || typeof row[i] === 'number'));
  const widths = rows.columns.map((column, i) => Math.max(column.length, ...texts.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [rows.columns.map((column) => column.toUpperCase()), ...texts].map((cells) => `${line(cells)}\n`).join('');
}

export function formatAnswer(answer: Answer, format: OutputFormat): string {
  const rows = rowsOf(answer);
  return format === 'csv' ? formatCsv(rows) : format === 'jsonl' ? formatJsonLines(rows) : formatTable(rows);
}

/** The JSON body of the HTTP API: the answer's records under its name, and the next cursor of a page. */
export function answerJson(answer: Answer): Record<string, unknown> {
  switch (answer.question) {
    case 'flows':
      return { flows: answer.page.flows, ...(answer.page.next ? { next: answer.page.next } : {}) };
    case 'timeline':
      return { pod: podRefText(answer.pod), flows: rowsOf(answer).records, ...(answer.page.next ? { next: answer.page.next } : {}) };
    case 'top-talkers':
      return { talkers: answer.talkers };
    case 'graph':
      return { edges: answer.edges };
    case 'who-talked-to':
      return { callers: answer.callers };
  }
}

/** The next page's cursor of an answer, if it has one. */
export const nextCursorOf = (answer: Answer): string | undefined => (answer.question === 'flows' || answer.question === 'timeline' ? answer.page.next : undefined);
