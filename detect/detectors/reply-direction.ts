import type { EnrichedFlow } from '../../schemas/types.js';

/**
 * A record that is the answer half of a connection: from a service port (below 1024) to an
 * ephemeral one. VPC Flow Logs (and some Calico records) write each direction separately, so
 * kube-dns answering a client looks like kube-dns touching one port after another; scans and
 * lateral movement are judged on the asking half only. Without a source port (aggregated away)
 * a record counts as asked.
 */
export function isReplyDirection(flow: EnrichedFlow): boolean {
  const sourcePort = flow.source_port;
  const destPort = flow.dest_port;
  return sourcePort !== null && sourcePort !== undefined && destPort !== null && destPort !== undefined && sourcePort < 1024 && destPort >= 1024;
}
