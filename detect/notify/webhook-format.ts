/**
 * The generic webhook: `{ type, timestamp, data }` with `data` the alert's one JSON form
 * (toJson('Alert')), signed per Standard Webhooks with a fresh webhook-timestamp on each attempt.
 */
import { toJson, type JsonObject } from '../../schemas/json.js';
import { isoTime } from './alert-text.js';
import { JSON_CONTENT_TYPE, type EndpointFormat } from './endpoint-format.js';
import type { WebhookEndpointConfig } from './notify-config.js';
import { actionEventType, alertEventType, DIGEST_EVENT_TYPE, notificationId, type Notification } from './notification.js';
import { webhookHeaders } from './standard-webhooks.js';

/** The event a generic webhook carries for a notification. */
export function webhookEvent(notification: Notification): JsonObject {
  const timestamp = isoTime(notification.createdAt);
  if (notification.kind === 'alert') {
    return { type: alertEventType(notification.alert), timestamp, data: toJson('Alert', notification.alert) };
  }
  if (notification.kind === 'action') {
    return { type: actionEventType(notification.action), timestamp, data: toJson('ResponseAction', notification.action) };
  }
  return {
    type: DIGEST_EVENT_TYPE,
    timestamp,
    data: {
      route: notification.route,
      group: { ...notification.group },
      window_start: notification.windowStart,
      window_end: notification.windowEnd,
      count: notification.count,
      opened: notification.opened,
      updated: notification.updated,
      resolved: notification.resolved,
      max_severity: notification.maxSeverity,
      lead_alert_id: notification.lead?.alert_id ?? null,
      alerts: notification.alerts.map((alert) => toJson('Alert', alert)),
      omitted: notification.omitted,
    },
  };
}

export function webhookFormat(endpoint: Pick<WebhookEndpointConfig, 'secrets' | 'headers'>): EndpointFormat {
  return (notification) => {
    const id = notificationId(notification);
    const body = JSON.stringify(webhookEvent(notification));
    return {
      id,
      body,
      headers: (sentAt) => ({
        ...endpoint.headers,
        'content-type': JSON_CONTENT_TYPE,
        ...webhookHeaders(endpoint.secrets, id, Math.floor(sentAt / 1000), body),
      }),
    };
  };
}
