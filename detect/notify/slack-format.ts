/**
 * Slack incoming webhooks: `{ text, blocks }`. `text` is the one-line fallback (notifications,
 * screen readers); `blocks` lay out severity, detector, subject, destination and technique. Every
 * text is escaped (a summary cannot mention @channel) and cut to Block Kit's limits (header 150,
 * section 3000, field 2000 characters).
 */
import type { Alert } from '../../schemas/types.js';
import { destinationOf, isoTime, subjectOf, truncate } from './alert-text.js';
import { JSON_CONTENT_TYPE, type EndpointFormat } from './endpoint-format.js';
import { actionEventType, alertEventType, notificationId, type ActionNotification, type AlertNotification, type DigestNotification, type Notification } from './notification.js';

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

interface SlackText {
  readonly type: 'mrkdwn' | 'plain_text';
  readonly text: string;
}

type SlackBlock =
  | { readonly type: 'header'; readonly text: SlackText }
  | { readonly type: 'section'; readonly text?: SlackText; readonly fields?: readonly SlackText[] }
  | { readonly type: 'context'; readonly elements: readonly SlackText[] };

/** Slack's mrkdwn treats &, < and > as control characters. */
export const escapeMrkdwn = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const mrkdwn = (text: string, max = 3000): SlackText => ({ type: 'mrkdwn', text: truncate(text, max) });
const header = (text: string): SlackBlock => ({ type: 'header', text: { type: 'plain_text', text: truncate(text, 150) } });
const field = (label: string, value: string): SlackText => mrkdwn(`*${label}*\n${escapeMrkdwn(value)}`, 2000);

function alertMessage({ alert }: AlertNotification): SlackMessage {
  const event = alertEventType(alert);
  const severity = alert.severity.toUpperCase();
  const headline =
    event === 'alert.resolved'
      ? `Resolved: [${severity}] ${alert.detector}`
      : `[${severity}] ${alert.detector}${event === 'alert.updated' ? ' (updated)' : ''}`;
  const fields = [
    field('Severity', alert.severity),
    field('Detector', alert.detector),
    field('Subject', subjectOf(alert)),
    field('Destination', destinationOf(alert)),
    field('Technique', alert.technique ?? 'none'),
    field('Status', `${alert.status ?? 'open'}, revision ${alert.revision ?? 0}`),
  ];
  return {
    text: truncate(escapeMrkdwn(`${headline}: ${alert.summary}`), 3000),
    blocks: [
      header(event === 'alert.resolved' ? `RESOLVED · ${alert.detector} (was ${alert.severity})` : `${severity} · ${alert.detector}`),
      { type: 'section', text: mrkdwn(escapeMrkdwn(alert.summary)) },
      { type: 'section', fields },
      {
        type: 'context',
        elements: [mrkdwn(escapeMrkdwn(`alert ${alert.alert_id} · ${alert.count} flows · ${isoTime(alert.start_time)} → ${isoTime(alert.end_time)}`))],
      },
    ],
  };
}

const groupText = (group: Readonly<Record<string, string>>) =>
  Object.keys(group).length === 0 ? '' : ` (${Object.entries(group).map(([key, value]) => `${key}=${value}`).join(', ')})`;

const sampleLine = (alert: Alert) =>
  `• ${alert.status === 'resolved' ? 'resolved ' : ''}[${alert.severity}] ${alert.detector}: ${alert.summary}`;

function digestMessage(digest: DigestNotification): SlackMessage {
  const counts = `${digest.opened} opened, ${digest.updated} updated, ${digest.resolved} resolved; highest severity ${digest.maxSeverity}`;
  const text = `${digest.count} more alert event(s) on route ${digest.route}${groupText(digest.group)}: ${counts}`;
  const listed = digest.alerts.map(sampleLine).join('\n');
  const blocks: SlackBlock[] = [
    header(`DIGEST · ${digest.count} alert event(s) · ${digest.route}`),
    { type: 'section', text: mrkdwn(escapeMrkdwn(text)) },
  ];
  if (listed) blocks.push({ type: 'section', text: mrkdwn(escapeMrkdwn(listed)) });
  const omitted = digest.omitted > 0 ? ` · ${digest.omitted} more alert(s) not listed` : '';
  blocks.push({ type: 'context', elements: [mrkdwn(escapeMrkdwn(`${isoTime(digest.windowStart)} → ${isoTime(digest.windowEnd)}${omitted}`))] });
  return { text: truncate(escapeMrkdwn(text), 3000), blocks };
}

function actionMessage({ action }: ActionNotification): SlackMessage {
  const target = [action.target.namespace, action.target.name].filter((part) => part).join('/');
  const outcome = `${action.dry_run ? 'dry run: ' : ''}${actionEventType(action)}`;
  const text = `${outcome} ${action.target.kind} ${target}${action.reason ? `: ${action.reason}` : ''}`;
  const fields = [field('Action', outcome), field('Target', `${action.target.kind} ${target}`), field('Requested by', action.requested_by ?? 'flowsentry')];
  if (action.expires_at != null) fields.push(field('Expires', isoTime(action.expires_at)));
  const context = [`action ${action.action_id}`, action.alert_id ? `alert ${action.alert_id}` : undefined, isoTime(action.requested_at)];
  return {
    text: truncate(escapeMrkdwn(text), 3000),
    blocks: [
      header(`${outcome.toUpperCase()} · ${target}`),
      ...(action.reason ? [{ type: 'section' as const, text: mrkdwn(escapeMrkdwn(action.reason)) }] : []),
      { type: 'section', fields },
      { type: 'context', elements: [mrkdwn(escapeMrkdwn(context.filter((part) => part).join(' · ')))] },
    ],
  };
}

/** The Slack message of a notification. */
export function slackMessage(notification: Notification): SlackMessage {
  if (notification.kind === 'action') return actionMessage(notification);
  return notification.kind === 'alert' ? alertMessage(notification) : digestMessage(notification);
}

export const slackFormat: EndpointFormat = (notification) => {
  const body = JSON.stringify(slackMessage(notification));
  return { id: notificationId(notification), body, headers: () => ({ 'content-type': JSON_CONTENT_TYPE }) };
};
