/** Endpoint type → its message format: the one place that knows every kind of endpoint. */
import type { EndpointFormat } from './endpoint-format.js';
import { DEFAULT_PAGERDUTY_URL, type NotifyEndpointConfig } from './notify-config.js';
import { pagerDutyFormat } from './pagerduty-format.js';
import { slackFormat } from './slack-format.js';
import { webhookFormat } from './webhook-format.js';

export function formatFor(endpoint: NotifyEndpointConfig): EndpointFormat {
  switch (endpoint.type) {
    case 'webhook':
      return webhookFormat(endpoint);
    case 'slack':
      return slackFormat;
    case 'pagerduty':
      return pagerDutyFormat(endpoint.routingKey);
  }
}

export function urlOf(endpoint: NotifyEndpointConfig): string {
  return endpoint.type === 'pagerduty' ? (endpoint.url ?? DEFAULT_PAGERDUTY_URL) : endpoint.url;
}

/** How messages name an endpoint: its name, type and host, never the path or query (a Slack URL is a credential). */
export function describeEndpoint(endpoint: NotifyEndpointConfig): string {
  return `endpoint '${endpoint.name}' (${endpoint.type}, ${new URL(urlOf(endpoint)).host})`;
}
