/**
 * The names a quarantine writes into the cluster, shared with every other part of flowsentry
 * that reads them (RBAC, the end-to-end tests, operators' selectors). The pod carries the whole
 * state of its quarantine, so restarts and several responders agree without a store of their own.
 */
import { createHash } from 'node:crypto';

const prefix = 'quarantine.flowsentry.io';

/** The label that puts a pod under the quarantine policy; its value is the quarantine id. */
export const QUARANTINE_LABEL = `${prefix}/id`;

export const quarantineAnnotations = {
  alertId: `${prefix}/alert-id`,
  backend: `${prefix}/backend`,
  /** RFC 3339; the circuit breaker counts quarantines by it. */
  appliedAt: `${prefix}/applied-at`,
  /** RFC 3339; releaseExpired() lifts the quarantine after it. */
  expiresAt: `${prefix}/expires-at`,
  /** JSON of the labels the networkpolicy backend took away, put back on release. */
  originalLabels: `${prefix}/original-labels`,
  /**
   * Left behind by a release: the id of the quarantine lifted, so a redelivered or updated
   * revision of the same alert does not quarantine the pod again.
   */
  released: `${prefix}/released`,
} as const;

/** The field manager of every server-side apply, so a second apply of the same object changes nothing. */
export const QUARANTINE_FIELD_MANAGER = 'flowsentry-quarantine';

/** Default name of the shared policy object (GlobalNetworkPolicy, AdminNetworkPolicy, NetworkPolicy). */
export const DEFAULT_POLICY_NAME = 'flowsentry-quarantine';

/**
 * The quarantine id of an alert and a pod: the same alert about the same pod always gives the
 * same id, so a redelivered alert finds its quarantine. A valid label value (≤ 63 characters).
 */
export function quarantineId(alertId: string, podUid: string): string {
  return `q-${createHash('sha256').update(`${alertId}\n${podUid}`).digest('hex').slice(0, 24)}`;
}

/** The undo of a quarantine (manual release or expiry: only one of them can happen). */
export const undoActionId = (id: string): string => `${id}:undo`;
