/**
 * What a route hands to its endpoints: one alert revision, or a digest of the alerts a group window
 * (or the rate limit) held back. Formats turn these into each endpoint's message.
 */
import { createHash } from 'node:crypto';
import type { Alert, ResponseAction, Severity } from '../../schemas/types.js';

export type AlertEventType = 'alert.opened' | 'alert.updated' | 'alert.resolved';
export const DIGEST_EVENT_TYPE = 'alert.digest';

export interface AlertNotification {
  readonly kind: 'alert';
  readonly route: string;
  readonly alert: Alert;
  /** When the route let it through, epoch ms: the event's `timestamp`, the same on every retry. */
  readonly createdAt: number;
}

export interface DigestNotification {
  readonly kind: 'digest';
  readonly route: string;
  /** The grouping fields' values (empty when the route has no groupBy). */
  readonly group: Readonly<Record<string, string>>;
  readonly windowStart: number;
  readonly windowEnd: number;
  /** Alert revisions folded in, by the event each was. */
  readonly count: number;
  readonly opened: number;
  readonly updated: number;
  readonly resolved: number;
  readonly maxSeverity: Severity;
  /** The latest revision of the first distinct alerts held (at most the route's digestSampleSize). */
  readonly alerts: readonly Alert[];
  /** Distinct alerts held beyond the sample. */
  readonly omitted: number;
  /** The alert the window sent on its own, while it is still open: PagerDuty appends the digest to its incident. */
  readonly lead?: { readonly alert_id: string; readonly fingerprint: string };
  readonly createdAt: number;
}

/** A response taken or refused (a quarantine applied, skipped or released): on-call learns at once. */
export interface ActionNotification {
  readonly kind: 'action';
  readonly route: string;
  readonly action: ResponseAction;
  readonly createdAt: number;
}

export type Notification = AlertNotification | DigestNotification | ActionNotification;

/** `quarantine.applied`, `quarantine.skipped`, `undo.expired`, ...: the action's kind and outcome. */
export function actionEventType(action: ResponseAction): string {
  return `${action.kind}.${action.status}`;
}

/** opened for revision 0, resolved once resolved, updated in between (the Alert schema's episode). */
export function alertEventType(alert: Alert): AlertEventType {
  if (alert.status === 'resolved') return 'alert.resolved';
  return (alert.revision ?? 0) === 0 ? 'alert.opened' : 'alert.updated';
}

/** A short stable hash of a route and group, for ids and PagerDuty keys. */
export function groupHash(route: string, group: Readonly<Record<string, string>>): string {
  const canonical = JSON.stringify([route, Object.entries(group).sort(([a], [b]) => (a < b ? -1 : 1))]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/**
 * The message id (webhook-id): one per alert revision, `<alert_id>.<revision>`, so every attempt and
 * every route that sends the same revision carries the same id and a receiver can drop repeats.
 */
export function notificationId(notification: Notification): string {
  if (notification.kind === 'alert') return `${notification.alert.alert_id}.${notification.alert.revision ?? 0}`;
  if (notification.kind === 'action') return `action.${notification.action.action_id}.${notification.action.status}`;
  return `digest.${groupHash(notification.route, notification.group)}.${notification.windowStart}`;
}
