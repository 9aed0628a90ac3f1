/**
 * PagerDuty Events API v2. An open alert triggers with dedup_key = its fingerprint (updates of the
 * episode land on the same PagerDuty alert); a resolved one resolves that key. A digest triggers on
 * the incident of the alert its window sent (or on one key per route and group when there is
 * none), and is not sent at all when it opened nothing new.
 */
import type { Severity } from '../../schemas/types.js';
import { destinationOf, isoTime, subjectOf, truncate } from './alert-text.js';
import { JSON_CONTENT_TYPE, type EndpointFormat } from './endpoint-format.js';
import { groupHash, notificationId, type AlertNotification, type DigestNotification, type Notification } from './notification.js';

export type PagerDutySeverity = 'info' | 'warning' | 'error' | 'critical';

export const pagerDutySeverity: Readonly<Record<Severity, PagerDutySeverity>> = {
  info: 'info',
  low: 'warning',
  medium: 'warning',
  high: 'error',
  critical: 'critical',
};

export interface PagerDutyTrigger {
  readonly routing_key: string;
  readonly event_action: 'trigger';
  readonly dedup_key: string;
  readonly client: string;
  readonly payload: {
    readonly summary: string;
    readonly source: string;
    readonly severity: PagerDutySeverity;
    readonly timestamp: string;
    readonly component?: string;
    readonly group?: string;
    readonly class: string;
    readonly custom_details: Readonly<Record<string, unknown>>;
  };
}

export interface PagerDutyResolve {
  readonly routing_key: string;
  readonly event_action: 'resolve';
  readonly dedup_key: string;
}

export type PagerDutyEvent = PagerDutyTrigger | PagerDutyResolve;

const CLIENT = 'flowsentry';

function alertEvent(routingKey: string, { alert }: AlertNotification): PagerDutyEvent {
  if (alert.status === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: alert.fingerprint };
  const namespace = alert.source_namespace ?? undefined;
  const workload = alert.source_workload ?? alert.source_name_aggr;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: alert.fingerprint,
    client: CLIENT,
    payload: {
      summary: truncate(`[${alert.severity}] ${alert.detector}: ${alert.summary}`, 1024),
      source: (namespace && workload ? `${namespace}/${workload}` : (alert.source_ip ?? workload)) ?? 'unknown',
      severity: pagerDutySeverity[alert.severity],
      timestamp: isoTime(alert.end_time),
      ...(alert.source_name || alert.source_ip ? { component: (alert.source_name ?? alert.source_ip) as string } : {}),
      ...(namespace ? { group: namespace } : {}),
      class: alert.detector,
      custom_details: {
        alert_id: alert.alert_id,
        revision: alert.revision ?? 0,
        technique: alert.technique ?? null,
        subject: subjectOf(alert),
        destination: destinationOf(alert),
        flows: alert.count,
        indicator: alert.indicator ?? null,
        feed: alert.feed ?? null,
        evidence: alert.evidence ?? {},
        start_time: isoTime(alert.start_time),
        end_time: isoTime(alert.end_time),
      },
    },
  };
}

function digestEvent(routingKey: string, digest: DigestNotification): PagerDutyEvent | null {
  if (digest.opened === 0) return null;
  const group = Object.entries(digest.group).map(([key, value]) => `${key}=${value}`).join(', ');
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: digest.lead?.fingerprint ?? `${CLIENT}-digest-${groupHash(digest.route, digest.group)}`,
    client: CLIENT,
    payload: {
      summary: truncate(`${digest.count} more alert event(s) on route ${digest.route}${group ? ` (${group})` : ''}, highest severity ${digest.maxSeverity}`, 1024),
      source: CLIENT,
      severity: pagerDutySeverity[digest.maxSeverity],
      timestamp: isoTime(digest.windowEnd),
      ...(digest.group.source_namespace ? { group: digest.group.source_namespace } : {}),
      class: 'digest',
      custom_details: {
        route: digest.route,
        group: digest.group,
        window_start: isoTime(digest.windowStart),
        window_end: isoTime(digest.windowEnd),
        opened: digest.opened,
        updated: digest.updated,
        resolved: digest.resolved,
        alerts: digest.alerts.map((alert) => `${alert.alert_id}: [${alert.severity}] ${alert.summary}`),
        omitted: digest.omitted,
      },
    },
  };
}

/**
 * The Events v2 body of a notification, or null for a digest that opened nothing new and for a
 * response action: PagerDuty holds incidents, and the action reaches on-call through the alert's
 * own webhook and chat routes.
 */
export function pagerDutyEvent(routingKey: string, notification: Notification): PagerDutyEvent | null {
  if (notification.kind === 'action') return null;
  return notification.kind === 'alert' ? alertEvent(routingKey, notification) : digestEvent(routingKey, notification);
}

export function pagerDutyFormat(routingKey: string): EndpointFormat {
  return (notification) => {
    const event = pagerDutyEvent(routingKey, notification);
    if (event === null) return null;
    return { id: notificationId(notification), body: JSON.stringify(event), headers: () => ({ 'content-type': JSON_CONTENT_TYPE }) };
  };
}
