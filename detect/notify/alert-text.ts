/** Short human descriptions of an alert's ends, shared by the chat and paging formats. */
import type { Alert, Severity } from '../../schemas/types.js';

const severityRank: Readonly<Record<Severity, number>> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export function severityAtLeast(severity: Severity, minimum: Severity): boolean {
  return severityRank[severity] >= severityRank[minimum];
}

export function higherSeverity(a: Severity, b: Severity): Severity {
  return severityRank[a] >= severityRank[b] ? a : b;
}

const join = (parts: readonly (string | null | undefined)[], separator: string) => parts.filter((part) => part).join(separator);

function address(ip: string | null | undefined, port?: number | null): string | undefined {
  if (!ip) return undefined;
  const host = ip.includes(':') && port != null ? `[${ip}]` : ip;
  return port != null ? `${host}:${port}` : host;
}

/** The subject (source end): `namespace/name_aggr`, its workload and address, e.g. `shop/web-* (deployment/web, 10.0.1.5)`. */
export function subjectOf(alert: Alert): string {
  const name = join([alert.source_namespace, alert.source_name_aggr ?? alert.source_name], '/');
  const details = join([alert.source_workload, alert.source_ip], ', ');
  if (!name) return details || 'unknown source';
  return details ? `${name} (${details})` : name;
}

/** The destination end: `namespace/name_aggr (workload, ip:port)`, or `ip:port (pub)` for an address outside the cluster. */
export function destinationOf(alert: Alert): string {
  const where = address(alert.dest_ip, alert.dest_port);
  const inCluster = alert.dest_namespace ? join([alert.dest_namespace, alert.dest_name_aggr ?? alert.dest_name], '/') : undefined;
  if (inCluster) {
    const details = join([alert.dest_workload, where], ', ');
    return details ? `${inCluster} (${details})` : inCluster;
  }
  if (where) return alert.dest_name_aggr ? `${where} (${alert.dest_name_aggr})` : where;
  return alert.dest_name_aggr ?? 'unknown destination';
}

export const isoTime = (epochMs: number) => new Date(epochMs).toISOString();

/** At most `max` characters, an ellipsis marking a cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
